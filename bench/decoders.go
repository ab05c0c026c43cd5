package main

// The plugged decoders, for information: the msgpattern target again with
// rpc.Config.Decoder set, to show what plugging a faster JSON decoder buys
// (docs/PERFORMANCE-NOTES.md, "The JSON path": the built-in decoder,
// encoding/json's results, is the default; users may plug another). Same server, same handlers; only the
// decoding of typed data (rpc.Typed: the order, the 4 KiB object) changes.
// The two libraries are dependencies of this module only, never of the main
// one.

import (
	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"

	"github.com/msgpattern/msgpattern/rpc"
)

// pluggedDecoder is one "msgpattern + <decoder>" target.
type pluggedDecoder struct {
	target string      // the report's name
	kind   string      // bench server <kind>
	module string      // the decoder's Go module
	call   string      // what Config.Decoder is set to
	dec    rpc.Decoder //
}

var pluggedDecoders = []pluggedDecoder{
	{tMsgGoJSON, kindMsgpatternGoJSON, "github.com/goccy/go-json",
		"rpc.DecoderFunc(gojson.Unmarshal)", rpc.DecoderFunc(gojson.Unmarshal)},
	// sonic.Unmarshal is sonic.ConfigDefault's: it copies the input into a
	// string first, so the decoded strings never alias the server's buffer.
	{tMsgSonic, kindMsgpatternSonic, "github.com/bytedance/sonic",
		"rpc.DecoderFunc(sonic.Unmarshal)", rpc.DecoderFunc(sonic.Unmarshal)},
}

// pluggedByKind is the plugged decoder of a server kind (nil: encoding/json).
func pluggedByKind(kind string) *pluggedDecoder {
	for i := range pluggedDecoders {
		if pluggedDecoders[i].kind == kind {
			return &pluggedDecoders[i]
		}
	}
	return nil
}

// pluggedByTarget is the plugged decoder of a target (nil: none).
func pluggedByTarget(target string) *pluggedDecoder {
	for i := range pluggedDecoders {
		if pluggedDecoders[i].target == target {
			return &pluggedDecoders[i]
		}
	}
	return nil
}

// version is the decoder module's version in this binary, and for sonic
// whether its JIT is built in (sonicJIT: sonic's own build constraint) or
// its fallback, which is encoding/json.
func (p *pluggedDecoder) version() string {
	v := p.module + " " + modVersion(p.module)
	if p.target == tMsgSonic {
		if sonicJIT {
			v += ", JIT"
		} else {
			v += ", no JIT here: its encoding/json fallback"
		}
	}
	return v
}
