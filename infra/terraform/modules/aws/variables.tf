variable "name" {
  description = "Name prefix for every resource (letters, digits, hyphens)."
  type        = string
}

variable "lambda_zip" {
  description = "Path to the deployment package: a zip holding the base-lambda binary named bootstrap (see README)."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture: arm64 or x86_64 (must match the GOARCH the bootstrap was built for)."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Lambda memory in MB (CPU scales with it)."
  type        = number
  default     = 512
}

variable "timeout_seconds" {
  description = "Lambda timeout in seconds (API Gateway HTTP APIs cut requests at 30 s)."
  type        = number
  default     = 29
}

variable "store" {
  description = "BASE_STORE: sqlite (ephemeral /tmp, for trials only), postgres or libsql."
  type        = string
  default     = "postgres"
  validation {
    condition     = contains(["sqlite", "postgres", "libsql"], var.store)
    error_message = "store must be sqlite, postgres or libsql."
  }
}

variable "store_url" {
  description = "BASE_STORE_URL: the PostgreSQL DSN or the libSQL URL template. Sensitive: it usually holds a password."
  type        = string
  default     = ""
  sensitive   = true
}

variable "file_token_secret" {
  description = "BASE_FILE_TOKEN_SECRET: the key every instance signs and checks protected-file tokens with (at least 32 characters, e.g. `openssl rand -hex 32`). Without one shared key a token minted by one Lambda instance is refused by the next."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.file_token_secret) >= 32
    error_message = "file_token_secret must be at least 32 characters."
  }
}

variable "iam_endpoint" {
  description = "IAM_ENDPOINT: origin of the OIDC IAM whose tokens Base trusts (required in production)."
  type        = string
}

variable "iam_audience" {
  description = "IAM_AUDIENCE: the audience tokens must carry (empty: not checked)."
  type        = string
  default     = ""
}

variable "iam_client_id" {
  description = "IAM_CLIENT_ID: the OAuth client id advertised by auth-methods."
  type        = string
  default     = "base"
}

variable "default_org" {
  description = "BASE_DEFAULT_ORG: the org of guests whose host maps to none."
  type        = string
  default     = "default"
}

variable "org_domains" {
  description = "BASE_ORG_DOMAINS: host name → org for guests."
  type        = map(string)
  default     = {}
}

variable "redis_url" {
  description = "BASE_REDIS_URL: Redis for realtime events (the aws-realtime module's redis_url output); empty: no realtime fan-out."
  type        = string
  default     = ""
  sensitive   = true
}

variable "extra_environment" {
  description = "More environment variables for the function (e.g. BASE_LOG_LEVEL)."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Private subnets to run the function in (needed to reach Redis or a private database); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "http_api" {
  description = "Create an API Gateway HTTP API (payload 2.0) in front of the function."
  type        = bool
  default     = true
}

variable "function_url" {
  description = "Create a Lambda Function URL (auth NONE: Base checks tokens itself)."
  type        = bool
  default     = false
}

variable "schedules" {
  description = "Scheduled jobs: job id (as GET /v1/crons lists them) → EventBridge schedule expression (UTC). The function receives {\"detail\":{\"job\":ID}} and runs that job; an unknown id fails the invocation."
  type        = map(string)
  default     = { "__baseStoreOptimize__" = "cron(0 0 * * ? *)" }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
}

variable "files_bucket_name" {
  description = "Name of the S3 bucket for files (default: NAME-files-ACCOUNT)."
  type        = string
  default     = ""
}

variable "force_destroy_bucket" {
  description = "Let terraform destroy delete a bucket that still holds files."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
