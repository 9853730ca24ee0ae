output "url" {
  description = "The ALB's URL: /v1/realtime* reaches the hub, the rest the function."
  value       = "${var.certificate_arn != "" ? "https" : "http"}://${aws_lb.front.dns_name}"
}

output "redis_url" {
  description = "BASE_REDIS_URL for the function (TLS)."
  value       = local.redis_url
  sensitive   = true
}

output "function_security_group_id" {
  description = "Security group to give the function (aws module's security_group_ids) so it may reach Redis."
  value       = aws_security_group.function.id
}

output "hub_service" {
  description = "Name of the hub's ECS service."
  value       = aws_ecs_service.hub.name
}
