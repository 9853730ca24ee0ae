output "api_url" {
  description = "URL of the API handler (append /v1/...)."
  value       = google_cloud_run_v2_service.handler.uri
}

output "realtime_url" {
  description = "URL of the realtime hub: point the SDK's realtime at it, or route /v1/realtime* to it with a load balancer."
  value       = google_cloud_run_v2_service.hub.uri
}

output "files_bucket" {
  description = "GCS bucket holding files."
  value       = google_storage_bucket.files.name
}

output "redis_host" {
  description = "Memorystore host."
  value       = google_redis_instance.bus.host
}
