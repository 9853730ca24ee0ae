# The realtime side of Base on AWS: Redis (ElastiCache) carries change
# events from the Lambda handler to the hub; the hub runs on ECS Fargate;
# one ALB sends /v1/realtime* to the hub and everything else to Lambda.

data "aws_region" "current" {}

locals {
  redis_url = (var.redis_replication_group
    ? "rediss://${aws_elasticache_replication_group.bus[0].primary_endpoint_address}:6379"
  : "redis://${try(aws_elasticache_cluster.bus[0].cache_nodes[0].address, "")}:6379") # try: moto reports no nodes
}

# --- network ------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Base ALB: HTTP(S) from anywhere"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each          = toset(var.certificate_arn != "" ? ["443"] : ["80"])
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
}

resource "aws_vpc_security_group_egress_rule" "alb_to_hub" {
  security_group_id            = aws_security_group.alb.id
  referenced_security_group_id = aws_security_group.hub.id
  ip_protocol                  = "tcp"
  from_port                    = var.hub_port
  to_port                      = var.hub_port
}

resource "aws_security_group" "hub" {
  name        = "${var.name}-hub"
  description = "Base realtime hub tasks"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "hub_from_alb" {
  security_group_id            = aws_security_group.hub.id
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.hub_port
  to_port                      = var.hub_port
}

resource "aws_vpc_security_group_egress_rule" "hub_out" {
  security_group_id = aws_security_group.hub.id
  cidr_ipv4         = "0.0.0.0/0" # Redis, the store, the IAM's JWKS, image pulls
  ip_protocol       = "-1"
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Base Redis: from the hub and the function"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_hub" {
  security_group_id            = aws_security_group.redis.id
  referenced_security_group_id = aws_security_group.hub.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_security_group" "function" {
  name        = "${var.name}-function"
  description = "Base Lambda function in the VPC"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "function_out" {
  security_group_id = aws_security_group.function.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_function" {
  security_group_id            = aws_security_group.redis.id
  referenced_security_group_id = aws_security_group.function.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

# --- Redis -------------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "bus" {
  name       = "${var.name}-redis"
  subnet_ids = var.private_subnet_ids
}

resource "aws_elasticache_replication_group" "bus" {
  count                      = var.redis_replication_group ? 1 : 0
  replication_group_id       = "${var.name}-bus"
  description                = "Base realtime bus"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 1 + var.redis_replicas
  automatic_failover_enabled = var.redis_replicas > 0
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.bus.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  tags                       = var.tags
}

# A single node without failover or TLS: cheaper, for trials.
resource "aws_elasticache_cluster" "bus" {
  count              = var.redis_replication_group ? 0 : 1
  cluster_id         = "${var.name}-bus"
  engine             = "redis"
  engine_version     = "7.1"
  node_type          = var.redis_node_type
  num_cache_nodes    = 1
  port               = 6379
  subnet_group_name  = aws_elasticache_subnet_group.bus.name
  security_group_ids = [aws_security_group.redis.id]
  tags               = var.tags
}

# --- hub on ECS Fargate -----------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "hub" {
  name              = "/ecs/${var.name}-hub"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role pulls the image and writes logs; the task role is the
# hub's own identity and needs nothing beyond the network.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-hub-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.hub.arn}:*"]
  }
  statement {
    sid = "PullImage"
    actions = [
      "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
    ]
    resources = ["*"] # GetAuthorizationToken has no resource scope
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-hub-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-hub-task"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

resource "aws_ecs_cluster" "hub" {
  name = "${var.name}-hub"
  tags = var.tags
}

resource "aws_ecs_task_definition" "hub" {
  family                   = "${var.name}-hub"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.hub_cpu
  memory                   = var.hub_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode([{
    name         = "hub"
    image        = var.hub_image
    essential    = true
    portMappings = [{ containerPort = var.hub_port, protocol = "tcp" }]
    environment = [for k, v in merge(nonsensitive(var.hub_environment), {
      BASE_HTTP      = "0.0.0.0:${var.hub_port}"
      BASE_REDIS_URL = local.redis_url
    }) : { name = k, value = v }]
    stopTimeout = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.hub.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "hub"
      }
    }
  }])
  tags = var.tags
}

resource "aws_ecs_service" "hub" {
  name            = "${var.name}-hub"
  cluster         = aws_ecs_cluster.hub.id
  task_definition = aws_ecs_task_definition.hub.arn
  desired_count   = var.hub_count
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.hub.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.hub.arn
    container_name   = "hub"
    container_port   = var.hub_port
  }
  depends_on = [aws_lb_listener.front]
  tags       = var.tags
}

# --- ALB: /v1/realtime* → hub, the rest → Lambda -------------------------------------------

resource "aws_lb" "front" {
  name               = substr("${var.name}-alb", 0, 32)
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]
  idle_timeout       = var.idle_timeout
  tags               = var.tags
}

resource "aws_lb_target_group" "hub" {
  name                 = substr("${var.name}-hub", 0, 32)
  port                 = var.hub_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  health_check {
    path    = "/v1/health"
    matcher = "200"
  }
  tags = var.tags
}

resource "aws_lb_target_group" "function" {
  name                               = substr("${var.name}-fn", 0, 32)
  target_type                        = "lambda"
  lambda_multi_value_headers_enabled = true # keeps every Set-Cookie apart
  tags                               = var.tags
}

resource "aws_lambda_permission" "alb" {
  statement_id  = "AllowALB"
  action        = "lambda:InvokeFunction"
  function_name = var.lambda_function_name
  principal     = "elasticloadbalancing.amazonaws.com"
  source_arn    = aws_lb_target_group.function.arn
}

resource "aws_lb_target_group_attachment" "function" {
  target_group_arn = aws_lb_target_group.function.arn
  target_id        = var.lambda_function_arn
  depends_on       = [aws_lambda_permission.alb]
}

resource "aws_lb_listener" "front" {
  load_balancer_arn = aws_lb.front.arn
  port              = var.certificate_arn != "" ? 443 : 80
  protocol          = var.certificate_arn != "" ? "HTTPS" : "HTTP"
  certificate_arn   = var.certificate_arn != "" ? var.certificate_arn : null
  ssl_policy        = var.certificate_arn != "" ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.function.arn
  }
}

resource "aws_lb_listener_rule" "realtime" {
  listener_arn = aws_lb_listener.front.arn
  priority     = 10
  condition {
    path_pattern {
      values = ["/v1/realtime", "/v1/realtime/*", "/api/realtime", "/api/realtime/*"]
    }
  }
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.hub.arn
  }
}
