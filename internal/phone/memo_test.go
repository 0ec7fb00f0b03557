package phone

import (
	"errors"
	"testing"
)

func TestMemo(t *testing.T) {
	calls := 0
	m := NewMemo(func(e164 string) (int, error) {
		calls++
		if e164 == "bad" {
			return 0, errors.New("bad number")
		}
		return len(e164), nil
	})
	for range 3 {
		if v, err := m.Get("+81"); v != 3 || err != nil {
			t.Fatalf("Get(+81) = %d, %v", v, err)
		}
		if _, err := m.Get("bad"); err == nil {
			t.Fatal("Get(bad): no error")
		}
	}
	if calls != 2 {
		t.Fatalf("%d calls for 2 numbers asked 3 times each", calls)
	}
}
