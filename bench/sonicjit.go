//go:build (amd64 && go1.17 && !go1.28) || (arm64 && go1.20 && !go1.28)

package main

// sonicJIT: sonic's JIT decoder is built in (the build constraint of
// github.com/bytedance/sonic's sonic.go, v1.15.5).
const sonicJIT = true
