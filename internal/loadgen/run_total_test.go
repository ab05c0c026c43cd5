package loadgen

import "testing"

// TestRunSendsTotal: Run sends total requests, as its doc says, whether
// or not conns divides it: total/conns per connection sent 9 of 10 over 3
// connections, and none at all of 2 over 4 (a result of 0 requests, and
// no error).
func TestRunSendsTotal(t *testing.T) {
	c, err := StartCeiling("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ conns, inflight, total int }{{3, 2, 10}, {4, 1, 2}, {2, 8, 7}} {
		res, err := Run(c.Addr(), tc.conns, tc.inflight, tc.total, SumFrame)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != tc.total {
			t.Errorf("Run(%d conns, %d in flight, %d requests): %d requests; want %d",
				tc.conns, tc.inflight, tc.total, res.Requests, tc.total)
		}
	}
}
