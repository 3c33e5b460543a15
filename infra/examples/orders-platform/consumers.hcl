# Enhanced fan-out consumers (RegisterStreamConsumer). Each one gets its own 2 MiB/s per
# shard through SubscribeToShard. Consumers that applications register themselves (for
# example the KCL) are left alone: a config only manages the consumers it declares.

consumer "fulfillment" {
  stream = stream.orders
}

consumer "order_analytics" {
  name   = "order-analytics"
  stream = stream.orders
}

consumer "fraud_detector" {
  name   = "fraud-detector"
  stream = stream.payments
}
