package rpc_test

import (
	"errors"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// A NestJS client's error is the err value as received, and what it calls
// the message is err.message: JavaScript member names are case-sensitive.
// *rpc.Error's Message and Status ("On the client side it is read from the
// error value") must be read so too: {"message":"real","MESSAGE":"other"}
// has the message "real", and {"Message":"x"} has none.
func TestClientErrorMembersCaseSensitive(t *testing.T) {
	for _, tt := range []struct {
		reply, status, message string
	}{
		{`{"err":{"status":"error","message":"real","MESSAGE":"other"},"isDisposed":true,"id":ID}`, "error", "real"},
		{`{"err":{"Status":400,"Message":"x"},"isDisposed":true,"id":ID}`, "", ""},
		{`{"err":{"status":"error","message":"a","mEssage":"b"},"isDisposed":true,"id":ID}`, "error", "a"},
	} {
		t.Run(tt.reply, func(t *testing.T) {
			_, err := sendToFakeReplier(t, tt.reply)
			var re *rpc.Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want an *rpc.Error", err)
			}
			if re.Status != tt.status || re.Message != tt.message {
				t.Fatalf("Status %q, Message %q; want %q, %q (err.status, err.message as a NestJS client reads them)", re.Status, re.Message, tt.status, tt.message)
			}
		})
	}
}

// TestNewErrorObjectMessageCaseSensitive: the server side of the same
// rule. NewErrorObject's Message (what the server logs, and Error's text)
// is the payload's "message", an exact name, else the whole payload.
func TestNewErrorObjectMessageCaseSensitive(t *testing.T) {
	for _, tt := range []struct {
		v    map[string]any
		want string
	}{
		{map[string]any{"message": "bad", "status": 400}, "bad"},
		{map[string]any{"MESSAGE": "x"}, `{"MESSAGE":"x"}`},
		{map[string]any{"Message": "x", "status": 1}, `{"Message":"x","status":1}`},
	} {
		e, err := rpc.NewErrorObject(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if e.Message != tt.want {
			t.Errorf("NewErrorObject(%v).Message = %q, want %q", tt.v, e.Message, tt.want)
		}
	}
}
