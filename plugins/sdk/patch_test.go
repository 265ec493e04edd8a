package sdk

import (
	"strings"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	for _, tc := range []struct {
		name, old, diff, want, err string
	}{
		{
			name: "replace with headers",
			old:  "a\nb\nc\nd\n",
			diff: "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
			want: "a\nB\nc\nd\n",
		},
		{
			name: "hunk found at an offset",
			old:  "x\ny\na\nb\nc\n",
			diff: "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
			want: "x\ny\na\nB\nc\n",
		},
		{
			name: "two hunks, insert and delete",
			old:  "1\n2\n3\n4\n5\n6\n",
			diff: "@@ -1,0 +2 @@\n+1.5\n@@ -5,2 +6 @@\n 5\n-6\n",
			want: "1\n1.5\n2\n3\n4\n5\n",
		},
		{
			name: "new content into empty file",
			old:  "",
			diff: "@@ -0,0 +1,2 @@\n+hello\n+world\n",
			want: "hello\nworld\n",
		},
		{
			name: "no newline at end of file",
			old:  "a\nb",
			diff: "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n",
			want: "a\nc\n",
		},
		{
			name: "empty context line without its space",
			old:  "a\n\nb\n",
			diff: "@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n",
			want: "a\n\nc\n",
		},
		{
			name: "context mismatch",
			old:  "a\nb\n",
			diff: "@@ -1,2 +1,2 @@\n a\n-x\n+y\n",
			err:  "hunk #1 (@@ -1,2 +1,2 @@) does not apply",
		},
		{
			name: "short hunk",
			old:  "a\nb\n",
			diff: "@@ -1,3 +1,3 @@\n a\n-b\n+c\n",
			err:  "ends early",
		},
		{
			name: "two files",
			old:  "a\n",
			diff: "@@ -1 +1 @@\n-a\n+b\n--- a/g\n+++ b/g\n@@ -1 +1 @@\n-a\n+b\n",
			err:  "a patch covers one file",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyPatch([]byte(tc.old), tc.diff)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
