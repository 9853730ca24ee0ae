variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of the services, Redis and the bucket."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "base"
}

variable "image" {
  description = "Container image of base-cloudrun (Artifact Registry)."
  type        = string
}

variable "hub_image" {
  description = "Container image of the realtime hub."
  type        = string
}

variable "store" {
  description = "BASE_STORE: postgres or libsql."
  type        = string
  default     = "postgres"
}

variable "store_url" {
  description = "BASE_STORE_URL (PostgreSQL DSN or libSQL URL template); stored in Secret Manager."
  type        = string
  sensitive   = true
}

variable "file_token_secret" {
  description = "BASE_FILE_TOKEN_SECRET: the key every handler instance signs and checks protected-file tokens with (at least 32 characters, e.g. `openssl rand -hex 32`); stored in Secret Manager."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.file_token_secret) >= 32
    error_message = "file_token_secret must be at least 32 characters."
  }
}

variable "iam_endpoint" {
  description = "IAM_ENDPOINT: origin of the OIDC IAM."
  type        = string
}

variable "iam_audience" {
  description = "IAM_AUDIENCE (empty: not checked)."
  type        = string
  default     = ""
}

variable "min_instances" {
  description = "Minimum handler instances (0: scale to zero)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum handler instances."
  type        = number
  default     = 20
}

variable "hub_min_instances" {
  description = "Minimum hub instances (keep ≥1: it holds client connections)."
  type        = number
  default     = 1
}

variable "hub_timeout_seconds" {
  description = "Request timeout of the hub service: SSE/WebSocket connections live this long (max 3600)."
  type        = number
  default     = 3600
}

variable "redis_memory_gb" {
  description = "Memorystore Redis size in GB."
  type        = number
  default     = 1
}

variable "vpc_network" {
  description = "VPC network the services reach Memorystore through (Direct VPC egress)."
  type        = string
  default     = "default"
}

variable "vpc_subnetwork" {
  description = "Subnetwork for Direct VPC egress of the services."
  type        = string
  default     = "default"
}

variable "schedules" {
  description = "Scheduled jobs: job id (as GET /v1/crons lists them) → cron (Cloud Scheduler, in schedule_time_zone). Each POSTs to /v1/crons/ID on the handler with an OIDC ID token of the scheduler's service account."
  type        = map(string)
  default     = { "__baseStoreOptimize__" = "0 0 * * *" }
}

variable "schedule_time_zone" {
  description = "Time zone of the schedules."
  type        = string
  default     = "Etc/UTC"
}

variable "public" {
  description = "Allow unauthenticated invocations (Base checks IAM tokens itself)."
  type        = bool
  default     = true
}
