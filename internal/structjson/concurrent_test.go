package structjson

import (
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentDecodingSharesNothing(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				want := fmt.Sprintf("g%d-%d", g, i)
				var v struct {
					A    string
					Tags []string
					M    map[string]string
				}
				doc := fmt.Sprintf(`{"A":%q,"Tags":[%q,%q],"M":{%q:%q}}`, want, want, want, want, want)
				if err := Unmarshal([]byte(doc), &v); err != nil {
					t.Error(err)
					return
				}
				v.Tags = append(v.Tags, "x")
				if v.A != want || v.Tags[0] != want || v.Tags[1] != want || v.M[want] != want {
					t.Errorf("got %+v want %s", v, want)
				}
			}
		})
	}
	wg.Wait()
}
