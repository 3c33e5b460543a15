# The orders platform's streams, kept in version control and converged with
#   weir plan  -f infra/examples/orders-platform
#   weir apply -f infra/examples/orders-platform
#
# Roles, bindings and service accounts for these streams will join this config once
# authentication lands; until then `weir validate` refuses them with an explanation.

config_name = "orders-platform"

variable "env" {
  description = "Deployment environment, recorded in every stream's tags."
  type        = string
  default     = "prod"
}

variable "orders_shards" {
  description = "Open shards of the orders stream (1 MiB/s and 1,000 records/s of writes each)."
  type        = number
  default     = 4
}

variable "orders_retention_hours" {
  type    = number
  default = 168
}

locals {
  owner = "commerce"
}

# Every order placed, keyed by order id.
stream "orders" {
  mode            = "PROVISIONED"
  shard_count     = var.orders_shards
  retention_hours = var.orders_retention_hours
  tags = {
    team = local.owner
    env  = var.env
    pii  = "false"
  }
}

# Payment authorisations and captures, keyed by payment id.
stream "payments" {
  shard_count     = 2
  retention_hours = 72
  tags = {
    team        = "payments"
    env         = var.env
    cost-center = "fin-42"
    # The stream whose orders these payments settle.
    settles     = stream.orders.name
  }
}

# Storefront clicks: bursty, so Weir sizes it (ON_DEMAND).
stream "clickstream" {
  name            = "clickstream.${var.env}"
  mode            = "ON_DEMAND"
  retention_hours = 24
  tags = {
    team = "growth"
    env  = var.env
  }
}
