// Shared by order-server.mjs and sum-server.mjs: a real NestJS TCP
// microservice with one message pattern, started as
// interop/nestjs/server.mjs is (the same flags, packages, options and
// stdout contract: one line `LISTENING <port>`; interop/nestjs/serve.mjs).
import { parseCli, loadNest } from '../../interop/nestjs/cli.mjs';
import { serveTcp } from '../../interop/nestjs/serve.mjs';

// serveOnePattern parses the command line of `script` (--nest, --host,
// --port; port 0 by default), and serves `pattern`, answered by
// handler(data) in a Nest controller, until SIGTERM or SIGINT.
export async function serveOnePattern(script, pattern, handler) {
  const { args, port } = parseCli(script, '[--port N]', {}, { anyPort: true });
  const nest = await loadNest(args.nest);
  const { Controller, Module } = nest.common;
  const { MessagePattern } = nest.microservices;

  class OnePatternController {
    handle(data) {
      return handler(data);
    }
  }
  const proto = OnePatternController.prototype;
  MessagePattern(pattern)(proto, 'handle', Object.getOwnPropertyDescriptor(proto, 'handle'));
  Controller()(OnePatternController);

  class OnePatternModule {}
  Module({ controllers: [OnePatternController] })(OnePatternModule);

  await serveTcp(nest, OnePatternModule, { host: args.host, port });
}
