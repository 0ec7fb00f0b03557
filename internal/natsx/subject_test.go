package natsx

import "testing"

func TestSubjectToken(t *testing.T) {
	tests := []struct{ id, want string }{
		{"a1b2-17", "a1b2-17"},
		{"db_primary-down", "db_primary-down"},
		{"web down/1", "x-77656220646f776e2f31"},
		{"a.b", "x-612e62"},
		{"x-already", "x-782d616c7265616479"}, // cannot be mistaken for an encoded one
		{"", "x-"},
		{"*", "x-2a"},
	}
	for _, tt := range tests {
		if got := SubjectToken(tt.id); got != tt.want {
			t.Errorf("SubjectToken(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

// BenchmarkSubjectToken measures the subject token of an escalation id
// (every outcome publish computes one).
func BenchmarkSubjectToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		SubjectToken("1a9b12aab46782f23b983bbd-1")
	}
}
