output "api_url" {
  description = "Base URL of the API: the HTTP API's endpoint, else the Function URL (append /v1/...)."
  value       = var.http_api ? aws_apigatewayv2_api.http[0].api_endpoint : (var.function_url ? trimsuffix(aws_lambda_function_url.base[0].function_url, "/") : "")
}

output "function_url" {
  description = "The Lambda Function URL, when function_url is true."
  value       = var.function_url ? aws_lambda_function_url.base[0].function_url : ""
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.base.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (an ALB target, see the aws-realtime module)."
  value       = aws_lambda_function.base.arn
}

output "files_bucket" {
  description = "S3 bucket holding uploaded files."
  value       = aws_s3_bucket.files.bucket
}

output "kms_key_arn" {
  description = "KMS key encrypting files, environment and logs."
  value       = aws_kms_key.base.arn
}

output "role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.function.arn
}

output "log_group" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}
