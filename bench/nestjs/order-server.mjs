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
// (same packages, same options, same stdout contract: one line
// `LISTENING <port>`).
//
// usage: node order-server.mjs --nest 10|11|12 [--host 127.0.0.1] [--port N]
import { parseCli, loadNest } from '../../interop/nestjs/cli.mjs';

const { args, port } = parseCli('order-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { NestFactory } = nest.core;
const { MessagePattern, Transport } = nest.microservices;

class OrderController {
  checkout(order) {
    let total = 0;
    for (const item of order.items) total += item.qty * item.price;
    const { name, address } = order.customer;
    return { orderId: order.id, customerName: name, address, total, items: order.items.length };
  }
}
const proto = OrderController.prototype;
MessagePattern('checkout')(proto, 'checkout', Object.getOwnPropertyDescriptor(proto, 'checkout'));
Controller()(OrderController);

class OrderModule {}
Module({ controllers: [OrderController] })(OrderModule);

let app;
try {
  app = await NestFactory.createMicroservice(OrderModule, {
    transport: Transport.TCP,
    options: { host: args.host, port },
    logger: ['error'],
  });
  const strategy = app.serverInstance ?? app.server;
  if (port === 0 && strategy && strategy.port !== 0) strategy.port = 0;
  await app.listen();
  const netServer = typeof strategy.unwrap === 'function' ? strategy.unwrap() : strategy.server;
  process.stdout.write(`LISTENING ${netServer.address().port}\n`);
} catch (e) {
  process.stderr.write(`server failed to start: ${e.stack || e}\n`);
  process.exit(1);
}

const shutdown = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  Promise.resolve(app.close())
    .catch(() => {})
    .finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
