package loadgen

import "testing"

// TestLastIDNotLast: lastID's fallback, for a frame whose id is not its
// last member, returns the id, not the rest of the object from the id on
// (which made the echo ceiling's reply carry the request's other members,
// or not be JSON at all).
func TestLastIDNotLast(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"pattern":"sum","data":[1,2],"id":7}`, `7`},
		{`{"id":7,"pattern":"sum","data":[1,2]}`, `7`},
		{`{"id":"a,}b","pattern":"sum","data":{"x":1}}`, `"a,}b"`},
		{`{"id":"q\"}","data":{"x":1}}`, `"q\"}"`},
		{`{"pattern":"sum","data":{"x":1}}`, `null`},
	} {
		if got := string(lastID([]byte(tc.body))); got != tc.want {
			t.Errorf("lastID(%s) = %s; want %s", tc.body, got, tc.want)
		}
	}
}
