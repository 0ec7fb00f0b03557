package seed

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, env string
		want      uint64
		wantErr   bool
	}{
		{name: "replayed", env: "424242", want: 424242},
		{name: "zero", env: "0", want: 0},
		{name: "largest", env: "18446744073709551615", want: 1<<64 - 1},
		{name: "not a number", env: "abc", wantErr: true},
		{name: "negative", env: "-1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.env)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parse(%q) = %d, %v; want %d, error %v", tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if s, err := parse(""); err != nil || s >= 1_000_000_000_000 {
		t.Errorf("parse(\"\") = %d, %v; want a drawn seed below 10^12", s, err)
	}
}

// TestSourceReplays: the same seed and test name give the same choices; a
// different seed or name others.
func TestSourceReplays(t *testing.T) {
	draw := func(s uint64, name string) []int64 {
		r := source(s, name)
		var out []int64
		for range 8 {
			out = append(out, r.Int64N(1<<40))
		}
		return out
	}
	a := draw(7, "TestKillWorker")
	if b := draw(7, "TestKillWorker"); !slices.Equal(a, b) {
		t.Errorf("seed 7 drew %v, then %v", a, b)
	}
	if b := draw(8, "TestKillWorker"); slices.Equal(a, b) {
		t.Errorf("seeds 7 and 8 drew the same %v", a)
	}
	if b := draw(7, "TestKillEmbedded"); slices.Equal(a, b) {
		t.Errorf("two tests of one run drew the same %v", a)
	}
}

func TestLine(t *testing.T) {
	if got, want := line(123), "seed 123 (replay: ESCALATOR_SYSTEST_SEED=123)"; got != want {
		t.Errorf("line(123) = %q, want %q", got, want)
	}
}

// TestFor: a test's source is the run's seed's, for the test's name.
func TestFor(t *testing.T) {
	s, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	r, want := For(t), source(s, t.Name())
	for range 4 {
		if a, b := r.Uint64(), want.Uint64(); a != b {
			t.Fatalf("For drew %d, the seed %d gives %d", a, s, b)
		}
	}
}
