// Package interop tests msgpattern against real NestJS. Its tests run the
// scripts in nestjs/ (a real ClientProxy and a real NestJS TCP server from
// npm, majors 10, 11 and 12; over NATS, majors 11 and 12, through a NATS
// server embedded in the test process) against the Go code. It has no code
// of its own.
//
// The tests need node and the npm packages: they run nestjs/install.sh when
// the packages are missing. Without node they skip, except under CI=true,
// where they fail.
package interop
