# Base on AWS Lambda: the stateless API handler behind an API Gateway HTTP
# API (and/or a Function URL), files in S3 encrypted with a KMS key,
# EventBridge schedules, CloudWatch logs and a least-privilege role.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  bucket = var.files_bucket_name != "" ? var.files_bucket_name : "${var.name}-files-${data.aws_caller_identity.current.account_id}"
  environment = merge({
    BASE_STORE       = var.store
    BASE_DIR         = "/tmp/base_data"
    BASE_FILES       = "s3"
    S3_BUCKET        = aws_s3_bucket.files.bucket
    S3_REGION        = data.aws_region.current.name
    IAM_ENDPOINT     = var.iam_endpoint
    IAM_CLIENT_ID    = var.iam_client_id
    BASE_DEFAULT_ORG = var.default_org
    BASE_LOG_LEVEL   = "info"
    BASE_STORE_URL   = var.store_url
    BASE_REDIS_URL   = var.redis_url
    IAM_AUDIENCE     = var.iam_audience
    BASE_ORG_DOMAINS = join(",", [for host, org in var.org_domains : "${host}=${org}"])
    # Every instance must sign and check protected-file tokens with one key.
    BASE_FILE_TOKEN_SECRET = var.file_token_secret
  }, var.extra_environment)
}

# --- encryption and files --------------------------------------------------

resource "aws_kms_key" "base" {
  description             = "${var.name}: Base files and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_alias" "base" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.base.key_id
}

resource "aws_s3_bucket" "files" {
  bucket        = local.bucket
  force_destroy = var.force_destroy_bucket
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "files" {
  bucket                  = aws_s3_bucket.files.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.base.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "files" {
  bucket = aws_s3_bucket.files.id
  versioning_configuration {
    status = "Enabled"
  }
}

# --- logs --------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "api" {
  count             = var.http_api ? 1 : 0
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# --- least-privilege role ------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
  statement {
    sid       = "ListFiles"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.files.arn]
  }
  statement {
    sid       = "Files"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.files.arn}/*"]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.base.arn]
  }
  dynamic "statement" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      sid = "VPCNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"] # ENI actions do not support resource-level scoping
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-function"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# --- the function -----------------------------------------------------------------

resource "aws_lambda_function" "base" {
  function_name    = var.name
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds
  kms_key_arn      = aws_kms_key.base.arn

  environment {
    variables = { for k, v in local.environment : k => v if v != "" }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  logging_config {
    log_format = "Text" # base-lambda writes JSON lines itself
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.function]
}

# --- HTTP API (payload 2.0) -----------------------------------------------------

resource "aws_apigatewayv2_api" "http" {
  count         = var.http_api ? 1 : 0
  name          = var.name
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "function" {
  count                  = var.http_api ? 1 : 0
  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.base.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "default" {
  count     = var.http_api ? 1 : 0
  api_id    = aws_apigatewayv2_api.http[0].id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.function[0].id}"
}

resource "aws_apigatewayv2_stage" "default" {
  count       = var.http_api ? 1 : 0
  api_id      = aws_apigatewayv2_api.http[0].id
  name        = "$default"
  auto_deploy = true
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api[0].arn
    format = jsonencode({
      requestId        = "$context.requestId", ip = "$context.identity.sourceIp", method = "$context.httpMethod",
      path             = "$context.path", status = "$context.status", latency = "$context.responseLatency",
      integrationError = "$context.integrationErrorMessage"
    })
  }
  tags = var.tags
}

resource "aws_lambda_permission" "http_api" {
  count         = var.http_api ? 1 : 0
  statement_id  = "AllowHTTPAPI"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.base.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http[0].execution_arn}/*/*"
}

# --- Function URL ------------------------------------------------------------------

resource "aws_lambda_function_url" "base" {
  count              = var.function_url ? 1 : 0
  function_name      = aws_lambda_function.base.function_name
  authorization_type = "NONE" # Base verifies IAM tokens itself
  invoke_mode        = "BUFFERED"
}

# --- schedules --------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = var.schedules
  name                = "${var.name}-${each.key}"
  description         = "Base scheduled job ${each.key}"
  schedule_expression = each.value
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = var.schedules
  rule     = aws_cloudwatch_event_rule.schedule[each.key].name
  arn      = aws_lambda_function.base.arn
  input = jsonencode({
    source        = "aws.events"
    "detail-type" = "Scheduled Event"
    detail        = { job = each.key }
  })
}

resource "aws_lambda_permission" "schedule" {
  for_each      = var.schedules
  statement_id  = "AllowSchedule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.base.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
