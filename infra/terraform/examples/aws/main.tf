# Example root: Base on AWS — Lambda behind an HTTP API and an ALB, files in
# S3 with KMS, PostgreSQL or libSQL by URL, Redis and the realtime hub on
# ECS Fargate, EventBridge schedules. `terraform apply` builds all of it;
# see ../../README.md.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { app = "base", deployment = var.name }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
}

# --- a small VPC: two public subnets (ALB, NAT), two private (function, hub, Redis)

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = true
  tags                    = { Name = "${var.name}-public-${count.index}" }
}

resource "aws_subnet" "private" {
  count             = 2
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)
  tags              = { Name = "${var.name}-private-${count.index}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "main" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id
  depends_on    = [aws_internet_gateway.main]
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main.id
  }
}

resource "aws_route_table_association" "private" {
  count          = 2
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# --- Base ------------------------------------------------------------------------------

module "base" {
  source = "../../modules/aws"

  name                 = var.name
  lambda_zip           = var.lambda_zip
  architecture         = var.architecture
  store                = var.store
  store_url            = var.store_url
  file_token_secret    = var.file_token_secret
  iam_endpoint         = var.iam_endpoint
  iam_audience         = var.iam_audience
  redis_url            = var.realtime ? module.realtime[0].redis_url : ""
  subnet_ids           = var.realtime ? aws_subnet.private[*].id : []
  security_group_ids   = var.realtime ? [module.realtime[0].function_security_group_id] : []
  http_api             = true
  function_url         = var.function_url
  schedules            = var.schedules
  force_destroy_bucket = var.force_destroy_bucket
  extra_environment    = var.extra_environment
}

module "realtime" {
  count  = var.realtime ? 1 : 0
  source = "../../modules/aws-realtime"

  name                    = var.name
  vpc_id                  = aws_vpc.main.id
  public_subnet_ids       = aws_subnet.public[*].id
  private_subnet_ids      = aws_subnet.private[*].id
  hub_image               = var.hub_image
  kms_key_arn             = module.base.kms_key_arn
  lambda_function_arn     = module.base.function_arn
  lambda_function_name    = module.base.function_name
  certificate_arn         = var.certificate_arn
  redis_replication_group = var.redis_replication_group
  hub_environment = {
    IAM_ENDPOINT   = var.iam_endpoint
    IAM_AUDIENCE   = var.iam_audience
    BASE_STORE     = var.store
    BASE_STORE_URL = var.store_url
  }
}
