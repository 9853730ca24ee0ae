# Base on Google Cloud: the handler and the realtime hub on Cloud Run (the
# hub with a long request timeout), Memorystore Redis between them, files
# in GCS through its S3-compatible XML API (HMAC key), the store URL and
# the HMAC secret in Secret Manager, Cloud Scheduler for jobs. This root
# stands alone: it needs only the google provider.

data "google_project" "this" {}

locals {
  redis_url = "redis://${google_redis_instance.bus.host}:${google_redis_instance.bus.port}"
  common_env = {
    BASE_STORE     = var.store
    BASE_DIR       = "/tmp/base_data"
    IAM_ENDPOINT   = var.iam_endpoint
    IAM_AUDIENCE   = var.iam_audience
    BASE_REDIS_URL = local.redis_url
  }
  # The audience of Cloud Scheduler's ID tokens: a custom audience of the
  # handler service (Cloud Run's invoker check accepts it) that Base checks
  # too (BASE_SCHEDULER_AUDIENCE). Not the service URL, which the service's
  # own environment cannot reference.
  scheduler_audience = "https://${var.name}-api.scheduler.base"
  secret_env = {
    BASE_STORE_URL         = google_secret_manager_secret.store_url.secret_id
    S3_SECRET_KEY          = google_secret_manager_secret.s3_secret.secret_id
    BASE_FILE_TOKEN_SECRET = google_secret_manager_secret.file_token.secret_id
  }
}

resource "google_project_service" "apis" {
  for_each           = toset(["run.googleapis.com", "redis.googleapis.com", "secretmanager.googleapis.com", "cloudscheduler.googleapis.com", "storage.googleapis.com"])
  service            = each.key
  disable_on_destroy = false
}

# --- identities ---------------------------------------------------------------------

resource "google_service_account" "handler" {
  account_id   = "${var.name}-handler"
  display_name = "Base API handler"
}

resource "google_service_account" "hub" {
  account_id   = "${var.name}-hub"
  display_name = "Base realtime hub"
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name}-scheduler"
  display_name = "Base scheduled jobs invoker"
}

# --- files: GCS through S3 interoperability ---------------------------------------------

resource "google_storage_bucket" "files" {
  name                        = "${var.project}-${var.name}-files"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
}

resource "google_storage_bucket_iam_member" "handler_files" {
  bucket = google_storage_bucket.files.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.handler.email}"
}

# An HMAC key of the handler's service account: S3 clients sign with it
# against https://storage.googleapis.com.
resource "google_storage_hmac_key" "handler" {
  service_account_email = google_service_account.handler.email
}

# --- secrets -------------------------------------------------------------------------------

resource "google_secret_manager_secret" "store_url" {
  secret_id = "${var.name}-store-url"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "store_url" {
  secret      = google_secret_manager_secret.store_url.id
  secret_data = var.store_url
}

resource "google_secret_manager_secret" "s3_secret" {
  secret_id = "${var.name}-s3-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "s3_secret" {
  secret      = google_secret_manager_secret.s3_secret.id
  secret_data = google_storage_hmac_key.handler.secret
}

resource "google_secret_manager_secret" "file_token" {
  secret_id = "${var.name}-file-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "file_token" {
  secret      = google_secret_manager_secret.file_token.id
  secret_data = var.file_token_secret
}

resource "google_secret_manager_secret_iam_member" "handler" {
  for_each  = { store = google_secret_manager_secret.store_url.id, s3 = google_secret_manager_secret.s3_secret.id, file_token = google_secret_manager_secret.file_token.id }
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.handler.email}"
}

resource "google_secret_manager_secret_iam_member" "hub" {
  secret_id = google_secret_manager_secret.store_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.hub.email}"
}

# --- Redis -----------------------------------------------------------------------------------

resource "google_redis_instance" "bus" {
  name               = "${var.name}-bus"
  tier               = "BASIC"
  memory_size_gb     = var.redis_memory_gb
  region             = var.region
  redis_version      = "REDIS_7_2"
  authorized_network = "projects/${var.project}/global/networks/${var.vpc_network}"
  depends_on         = [google_project_service.apis]
}

# --- the handler --------------------------------------------------------------------------------

resource "google_cloud_run_v2_service" "handler" {
  name                = "${var.name}-api"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  custom_audiences = [local.scheduler_audience]

  template {
    service_account                  = google_service_account.handler.email
    timeout                          = "60s"
    max_instance_request_concurrency = 80
    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.vpc_network
        subnetwork = var.vpc_subnetwork
      }
    }
    containers {
      image = var.image
      dynamic "env" {
        for_each = merge(local.common_env, {
          BASE_FILES    = "s3"
          S3_ENDPOINT   = "https://storage.googleapis.com"
          S3_BUCKET     = google_storage_bucket.files.name
          S3_REGION     = "auto"
          S3_ACCESS_KEY = google_storage_hmac_key.handler.access_id
          # Cloud Logging trace ids: projects/PROJECT/traces/ID.
          GOOGLE_CLOUD_PROJECT = var.project
          # POST /v1/crons/ID accepts the scheduler's ID tokens.
          BASE_SCHEDULER_ISSUER   = "https://accounts.google.com"
          BASE_SCHEDULER_AUDIENCE = local.scheduler_audience
          BASE_SCHEDULER_EMAIL    = google_service_account.scheduler.email
        })
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      startup_probe {
        http_get {
          path = "/v1/health"
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.handler, google_secret_manager_secret_version.store_url, google_secret_manager_secret_version.s3_secret, google_secret_manager_secret_version.file_token]
}

# --- the realtime hub: long request timeout, always one instance warm ---------------------------

resource "google_cloud_run_v2_service" "hub" {
  name                = "${var.name}-hub"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account                  = google_service_account.hub.email
    timeout                          = "${var.hub_timeout_seconds}s"
    max_instance_request_concurrency = 1000
    session_affinity                 = true
    scaling {
      min_instance_count = var.hub_min_instances
    }
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.vpc_network
        subnetwork = var.vpc_subnetwork
      }
    }
    containers {
      image = var.hub_image
      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }
      env {
        name = "BASE_STORE_URL"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.store_url.secret_id
            version = "latest"
          }
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.hub, google_secret_manager_secret_version.store_url]
}

resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = var.public ? { api = google_cloud_run_v2_service.handler.name, hub = google_cloud_run_v2_service.hub.name } : {}
  name     = each.value
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "scheduler" {
  name     = google_cloud_run_v2_service.handler.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

# --- scheduled jobs ------------------------------------------------------------------------------------

resource "google_cloud_scheduler_job" "job" {
  for_each  = var.schedules
  name      = "${var.name}-${each.key}"
  region    = var.region
  schedule  = each.value
  time_zone = var.schedule_time_zone
  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.handler.uri}/v1/crons/${each.key}"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.scheduler_audience
    }
  }
  depends_on = [google_project_service.apis]
}
