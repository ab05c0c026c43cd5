#!/usr/bin/env node
// A real NestJS TCP microservice with one pattern, "checkout", for the
// benchmark suite's realistic shape (bench/order.go): an order of about
// 1.1 KiB — a customer with an address, 8 line items with sku, name, qty,
// price and tags, an ISO date, non-ASCII notes — answered with a receipt
// echoing the customer's name and address, the total (the sum of qty ×
// price, in the items' order) and the number of items. The same logic as the
// msgpattern and gRPC-go targets' checkout in order.go; the data arrives
// already parsed (JSON.parse in the transport), and the receipt's members
// are built in the order of order.go's Receipt, so every target's reply is
// the same JSON text. It starts exactly as interop/nestjs/server.mjs does
// (one-pattern.mjs: same packages, same options, same stdout contract: one
// line `LISTENING <port>`).
//
// usage: node order-server.mjs --nest 10|11|12 [--host 127.0.0.1] [--port N]
import { serveOnePattern } from './one-pattern.mjs';

await serveOnePattern('order-server.mjs', 'checkout', (order) => {
  let total = 0;
  for (const item of order.items) total += item.qty * item.price;
  const { name, address } = order.customer;
  return { orderId: order.id, customerName: name, address, total, items: order.items.length };
});
