// The interop "demo contract" (README.md) as a NestJS module, for
// server.mjs (TCP) and nats-server.mjs (NATS): the same controller behind
// either transport. Decorators are applied by hand (plain JavaScript).
//
// With tcpMetadata (server.mjs), it also has "meta" and the event
// "meta-evt", which read the packet's NestJS 12 metadata with
// TcpContext.getMetadata() (NestJS 10 and 11 have none: null), and
// "meta-events": the metadata of the "meta-evt" events received so far,
// cleared as "events" is.
export function demoModule(nest, { tcpMetadata = false } = {}) {
  const { Controller, Module } = nest.common;
  const { MessagePattern, EventPattern, RpcException, Ctx } = nest.microservices;
  const { of } = nest.rxjs;

  const events = []; // data of every "evt" event, in arrival order
  const metaEvents = []; // metadata of every "meta-evt" event, in arrival order
  // The packet's metadata, from the RPC context's getMetadata() (TcpContext,
  // NestJS 12), or null.
  const metadataOf = (ctx) => (typeof ctx?.getMetadata === 'function' ? ctx.getMetadata() : undefined) ?? null;

  class DemoController {
    sum(data) {
      return data.reduce((a, b) => a + b, 0);
    }
    cmdSum(data) {
      return this.sum(data);
    }
    fortyTwo() {
      return 'forty-two';
    }
    sum2(data) {
      return 'sum2:' + data.reduce((a, b) => a + b, 0);
    }
    nested() {
      return 'nested-ok';
    }
    echo(data) {
      return data;
    }
    stream3() {
      return of(1, 2, 3);
    }
    fail() {
      throw new RpcException('bad input');
    }
    failobj() {
      throw new RpcException({ status: 400, message: 'bad' });
    }
    boom() {
      throw new Error('boom');
    }
    slow(data) {
      return new Promise((resolve) => setTimeout(() => resolve('slow:' + data), Number(data) || 0));
    }
    // Returns the recorded events and clears the list, so that several client
    // runs against one server each see only their own events.
    events() {
      return events.splice(0, events.length);
    }
    onEvt(data) {
      events.push(data);
    }
    onCmdEvt(data) {
      events.push(data);
    }
    meta(_data, ctx) {
      return { metadata: metadataOf(ctx) };
    }
    onMetaEvt(_data, ctx) {
      metaEvents.push(metadataOf(ctx));
    }
    metaEventsSeen() {
      return metaEvents.splice(0, metaEvents.length);
    }
  }

  function decorate(decorator, method) {
    const proto = DemoController.prototype;
    decorator(proto, method, Object.getOwnPropertyDescriptor(proto, method));
  }

  // Nest keeps pattern metadata on the method's function object, so every
  // pattern (including aliases) gets its own method.
  decorate(MessagePattern('sum'), 'sum');
  decorate(MessagePattern({ cmd: 'sum' }), 'cmdSum'); // Nest has no cmd convenience
  decorate(MessagePattern(42), 'fortyTwo');
  decorate(MessagePattern({ cmd: 'sum2', role: 'math' }), 'sum2');
  decorate(MessagePattern({ cmd: 'nested', opts: { a: 'x', z: 1 } }), 'nested');
  decorate(MessagePattern('echo'), 'echo');
  decorate(MessagePattern('stream3'), 'stream3');
  decorate(MessagePattern('fail'), 'fail');
  decorate(MessagePattern('failobj'), 'failobj');
  decorate(MessagePattern('boom'), 'boom');
  decorate(MessagePattern('slow'), 'slow');
  decorate(MessagePattern('events'), 'events');
  decorate(EventPattern('evt'), 'onEvt');
  decorate(EventPattern({ cmd: 'evt' }), 'onCmdEvt');
  if (tcpMetadata) {
    // Ctx() puts the RpcContext in the second parameter (without a parameter
    // decorator Nest passes the payload alone).
    Ctx()(DemoController.prototype, 'meta', 1);
    Ctx()(DemoController.prototype, 'onMetaEvt', 1);
    decorate(MessagePattern('meta'), 'meta');
    decorate(EventPattern('meta-evt'), 'onMetaEvt');
    decorate(MessagePattern('meta-events'), 'metaEventsSeen');
  }
  Controller()(DemoController);

  class DemoModule {}
  Module({ controllers: [DemoController] })(DemoModule);
  return DemoModule;
}
