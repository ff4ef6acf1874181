package validator

import (
	"strings"
	"testing"
)

func TestCode(t *testing.T) {
	tests := []struct {
		code, want string
	}{
		{"MAYA20", CodeOK},
		{"maya-20_x", CodeOK},
		{"abc", CodeOK},
		{strings.Repeat("a", 32), CodeOK},
		{"", CodeMissing},
		{"ab", CodeLength},
		{strings.Repeat("a", 33), CodeLength},
		{strings.Repeat("a", 200), CodeLength},
		{"MAYA 20", CodeCharacters},
		{" MAYA20", CodeCharacters},
		{"MAYA20\n", CodeCharacters},
		{"MAYA🎉", CodeCharacters},
		{"🎉🎉🎉", CodeCharacters},
		{"MÄYA20", CodeCharacters},
		{"MAYA.20", CodeCharacters},
		{"MAYA\x0020", CodeCharacters},
		{"ΜΑΥΑ20", CodeCharacters}, // Greek letters that look Latin
	}
	for _, tc := range tests {
		if got := Code(tc.code); got != tc.want {
			t.Errorf("Code(%q) = %q, want %q", tc.code, got, tc.want)
		}
	}
}
