//go:build !((amd64 && go1.17 && !go1.28) || (arm64 && go1.20 && !go1.28))

package main

// sonicJIT: sonic is built as its compat.go, encoding/json underneath (the
// build constraint of github.com/bytedance/sonic's compat.go, v1.15.5).
const sonicJIT = false
