variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "base"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "lambda_zip" {
  description = "Path to the zip holding the base-lambda bootstrap (see README: `make lambda-zip` equivalent)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64, as built."
  type        = string
  default     = "arm64"
}

variable "store" {
  description = "postgres or libsql (sqlite on Lambda is ephemeral: trials only)."
  type        = string
  default     = "postgres"
}

variable "file_token_secret" {
  description = "Key for protected-file tokens shared by every instance (BASE_FILE_TOKEN_SECRET; at least 32 characters, e.g. `openssl rand -hex 32`)."
  type        = string
  sensitive   = true
}

variable "store_url" {
  description = "PostgreSQL DSN or libSQL URL template (BASE_STORE_URL)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "iam_endpoint" {
  description = "Origin of the OIDC IAM (IAM_ENDPOINT)."
  type        = string
}

variable "iam_audience" {
  description = "Audience tokens must carry (IAM_AUDIENCE); empty: not checked."
  type        = string
  default     = ""
}

variable "realtime" {
  description = "Deploy Redis, the realtime hub on ECS Fargate and the ALB that routes /v1/realtime* to it."
  type        = bool
  default     = true
}

variable "hub_image" {
  description = "Container image of the realtime hub."
  type        = string
  default     = "ghcr.io/hanzoai/base-hub:latest"
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB (HTTPS); empty: HTTP on port 80."
  type        = string
  default     = ""
}

variable "function_url" {
  description = "Also create a Lambda Function URL."
  type        = bool
  default     = false
}

variable "schedules" {
  description = "Scheduled jobs: job id → EventBridge schedule expression (UTC). The built-in job of a serverless deployment is __baseStoreOptimize__ (daily); __baseIAMCleanup__ (hourly, rate(1 hour)) exists only where the IAM is embedded (base serve)."
  type        = map(string)
  default     = { "__baseStoreOptimize__" = "cron(0 0 * * ? *)" }
}

variable "force_destroy_bucket" {
  description = "Let destroy delete a non-empty files bucket."
  type        = bool
  default     = false
}

variable "redis_replication_group" {
  description = "Redis with failover and TLS (true) or a single plain node (false, trials)."
  type        = bool
  default     = true
}

variable "extra_environment" {
  description = "More environment for the function; overrides the module's (e.g. { BASE_FILES = \"local\", BASE_LOG_LEVEL = \"debug\" })."
  type        = map(string)
  default     = {}
}
