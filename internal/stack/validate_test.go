package stack

import (
	"strings"
	"testing"
)

func TestQuantities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		memoryErr string // "" means valid memory
		cpuErr    string // "" means valid CPU
	}{
		{in: "128Mi"},
		{in: "1G"},
		{in: "512"},
		{in: "1.5Gi"},
		{in: "1e9"},
		{in: "0"},
		{in: "2"},
		{in: "+1Ki"},
		{in: "1E2"}, // E is exa only without a number after it
		{in: "100m", memoryErr: "thousandths of a byte"},
		{in: "5u", memoryErr: "millionths of a byte"},
		{in: "0.5", memoryErr: "not a whole number of bytes"},
		{in: "1e-1", memoryErr: "not a whole number of bytes"},
		{in: ".5", memoryErr: "not a whole number of bytes"},
		{in: "", memoryErr: "not a quantity", cpuErr: "not a quantity"},
		{in: "Mi", memoryErr: "not a quantity", cpuErr: "not a quantity"},
		{in: ".", memoryErr: "not a quantity", cpuErr: "not a quantity"},
		{in: "1..2", memoryErr: "not a quantity", cpuErr: "not a quantity"},
		{in: "-1", memoryErr: "negative", cpuErr: "negative"},
		{in: "128MB", memoryErr: `unknown unit "MB"`, cpuErr: `unknown unit "MB"`},
		{in: "1e", memoryErr: `unknown unit "e"`, cpuErr: `unknown unit "e"`},
		{in: "1e+", memoryErr: `unknown unit "e+"`, cpuErr: `unknown unit "e+"`},
		{in: "8Ei", memoryErr: "too large", cpuErr: "too large"},
		{in: "1e31", memoryErr: "too large", cpuErr: "too large"},
		{in: "1e-31", memoryErr: "too small", cpuErr: "too small"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			check := func(what, wantErr string, err error) {
				switch {
				case wantErr == "" && err != nil:
					t.Errorf("%s %q: unexpected error %v", what, tt.in, err)
				case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
					t.Errorf("%s %q: got %v, want an error containing %q", what, tt.in, err, wantErr)
				}
			}
			check("memory", tt.memoryErr, checkMemory(tt.in))
			_, _, err := parseQuantity(tt.in)
			check("cpu", tt.cpuErr, err)
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"imgae", ` (did you mean "image"?)`},
		{"Image", ` (did you mean "image"?)`},
		{"readonly_root_fs", ""},
		{"zzzzzz", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, functionKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Path: "stack.yaml", Line: 12, Field: "functions.a.image", Msg: "required"}, "stack.yaml:12: functions.a.image: required"},
		{Error{Path: "stack.yaml", Msg: "is empty"}, "stack.yaml: is empty"},
		{Error{Line: 3, Field: "version", Msg: "bad"}, "line 3: version: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
