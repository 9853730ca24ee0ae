output "api_url" {
  description = "Where clients connect: the ALB (realtime included) when realtime is on, else the HTTP API."
  value       = var.realtime ? module.realtime[0].url : module.base.api_url
}

output "http_api_url" {
  description = "The API Gateway HTTP API endpoint (everything but realtime)."
  value       = module.base.api_url
}

output "function_url" {
  description = "The Lambda Function URL, if enabled."
  value       = module.base.function_url
}

output "files_bucket" {
  description = "S3 bucket for files."
  value       = module.base.files_bucket
}

output "function_name" {
  description = "The Lambda function."
  value       = module.base.function_name
}
