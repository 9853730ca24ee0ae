variable "name" {
  description = "Name prefix for every resource."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the hub, Redis and the load balancer."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing ALB (at least two AZs)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the hub tasks and of Redis."
  type        = list(string)
}

variable "hub_image" {
  description = "Container image of the realtime hub (it listens on hub_port and serves /v1/realtime)."
  type        = string
}

variable "hub_port" {
  description = "Port the hub container listens on."
  type        = number
  default     = 8090
}

variable "hub_count" {
  description = "Number of hub tasks."
  type        = number
  default     = 2
}

variable "hub_cpu" {
  description = "Fargate CPU units per hub task."
  type        = number
  default     = 512
}

variable "hub_memory" {
  description = "Fargate memory (MB) per hub task."
  type        = number
  default     = 1024
}

variable "hub_environment" {
  description = "Environment of the hub (IAM_ENDPOINT, BASE_STORE, BASE_STORE_URL, ...); BASE_REDIS_URL and BASE_HTTP are set by the module."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "lambda_function_arn" {
  description = "The Base function (aws module's function_arn): the ALB sends every path except /v1/realtime* to it."
  type        = string
}

variable "lambda_function_name" {
  description = "Name of the Base function, for the ALB's invoke permission."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the ALB; empty: plain HTTP on port 80 (trials only)."
  type        = string
  default     = ""
}

variable "idle_timeout" {
  description = "ALB idle timeout in seconds; SSE and WebSocket connections send keep-alives more often than this."
  type        = number
  default     = 300
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_replication_group" {
  description = "Redis as a replication group (failover, TLS, encryption at rest with kms_key_arn); false: one plain node for trials."
  type        = bool
  default     = true
}

variable "redis_replicas" {
  description = "Read replicas besides the primary (0 for a single node)."
  type        = number
  default     = 1
}

variable "kms_key_arn" {
  description = "KMS key for Redis at rest and for the hub's logs (aws module's kms_key_arn)."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the hub."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
