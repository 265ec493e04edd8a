package keys

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestGenerateSignVerify(t *testing.T) {
	k, err := Generate("ci-1")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("package sha256 abc")
	sig := k.Sign(msg)
	if string(sig) != string(k.Sign(msg)) {
		t.Error("ed25519 signatures must be deterministic")
	}
	pub := k.Public()
	if !pub.Verify(msg, sig) {
		t.Fatal("signature does not verify with its own public key")
	}
	if pub.Verify([]byte("package sha256 abd"), sig) {
		t.Error("signature verifies a different message")
	}
	other, _ := Generate("ci-1")
	if other.Public().Verify(msg, sig) {
		t.Error("signature verifies with another key of the same name")
	}
	if other.ID() == k.ID() {
		t.Errorf("two keys named alike share the ID %s", k.ID())
	}
	if !strings.HasPrefix(k.ID(), "ci-1:") || len(k.ID()) != len("ci-1:")+16 {
		t.Errorf("ID %q: want ci-1:HEX16", k.ID())
	}
}

func TestTextForms(t *testing.T) {
	k, _ := Generate("release@example.org")
	pub, err := ParsePublic(" " + k.Public().String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID() != k.ID() {
		t.Errorf("public round trip: %s != %s", pub.ID(), k.ID())
	}
	priv, err := ParsePrivate(string(k.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Verify([]byte("x"), priv.Sign([]byte("x"))) {
		t.Error("private round trip signs with another key")
	}
	// A public key where a private one is expected and vice versa.
	if _, err := ParsePrivate(k.Public().String()); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("public as private: %v", err)
	}
	if _, err := ParsePublic(string(k.Encode())); err == nil {
		t.Error("private key accepted as a public key")
	} else if strings.Contains(err.Error(), strings.TrimSpace(string(k.Encode()))[20:]) {
		t.Errorf("error shows the secret: %v", err)
	}
	for _, bad := range []string{"", "nocolon", "bad name:AAAA", "-x:AAAA", "n:!!!!", "n:AAAA"} {
		if _, err := ParsePublic(bad); err == nil {
			t.Errorf("ParsePublic(%q) accepted", bad)
		}
	}
	// A private key whose public half was swapped for another key's.
	other, _ := Generate("release@example.org")
	forged := append(append([]byte{}, k.key[:32]...), other.key[32:]...)
	if _, err := ParsePrivate(string((&PrivateKey{name: "x", key: forged}).Encode())); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("mismatched halves: %v", err)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	k, _ := Generate("team")
	kp, pp, err := WriteFiles(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(kp)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %o, want 0600", kp, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(pp)
	if string(b) != k.Public().String()+"\n" || strings.Count(string(b), "\n") != 1 {
		t.Errorf("%s = %q: want one line, the public key", pp, b)
	}
	if _, _, err := WriteFiles(dir, k); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteFiles: %v", err)
	}
	loaded, err := LoadPrivate(kp)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.ID() != k.ID() {
		t.Error("loaded another key")
	}
	pub, err := LoadPublic(pp)
	if err != nil || pub.ID() != k.ID() {
		t.Errorf("LoadPublic: %v %v", pub.ID(), err)
	}
	os.Chmod(kp, 0o644)
	if _, err := LoadPrivate(kp); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
}

func TestSignerResolution(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv(SigningKeyEnv, "")
	dir := t.TempDir()
	k, _ := Generate("flag")
	kp, _, _ := WriteFiles(dir, k)

	got, err := Signer(kp)
	if err != nil || got.ID() != k.ID() {
		t.Fatalf("flag: %v %v", got, err)
	}
	envKey, _ := Generate("env")
	t.Setenv(SigningKeyEnv, string(envKey.Encode()))
	if got, err := Signer(""); err != nil || got.ID() != envKey.ID() {
		t.Fatalf("env inline: %v", err)
	}
	t.Setenv(SigningKeyEnv, kp)
	if got, err := Signer(""); err != nil || got.ID() != k.ID() {
		t.Fatalf("env path: %v", err)
	}
	t.Setenv(SigningKeyEnv, filepath.Join(dir, "missing.key"))
	if _, err := Signer(""); err == nil || !strings.Contains(err.Error(), SigningKeyEnv) {
		t.Fatalf("env missing file: %v", err)
	}
	t.Setenv(SigningKeyEnv, "")
	if _, err := os.Stat(filepath.Join(cfg, "monogres", "builder.key")); err == nil {
		t.Fatal("builder key exists before first use")
	}
	// First use, from several goroutines at once: one key is created and
	// every caller gets it.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			b, err := Signer("")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = b.ID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first use made different keys: %v", ids)
		}
	}
	fi, err := os.Stat(filepath.Join(cfg, "monogres", "builder.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("builder key: %v %v", fi, err)
	}
	again, _ := Signer("")
	if again.ID() != ids[0] {
		t.Error("builder key changed between uses")
	}
}

func TestTrusted(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	a, _ := Generate("a")
	b, _ := Generate("b")
	c, _ := Generate("c")
	dir := t.TempDir()
	_, cp, _ := WriteFiles(dir, c)
	t.Setenv(TrustedKeysEnv, b.Public().String()+", "+cp)
	r, err := Trusted([]PublicKey{a.Public()})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*PrivateKey{a, b, c} {
		if _, ok := r.Lookup(k.ID()); !ok {
			t.Errorf("%s not trusted", k.ID())
		}
	}
	if len(r.Keys()) != 3 {
		t.Errorf("keys: %s (no builder key exists yet, so none is added)", r.IDs())
	}
	builder, _ := BuilderKey()
	r, _ = Trusted(nil)
	if _, ok := r.Lookup(builder.ID()); !ok {
		t.Errorf("the local builder key is not trusted: %s", r.IDs())
	}
	t.Setenv(TrustedKeysEnv, "not-a-key")
	if _, err := Trusted(nil); err == nil || !strings.Contains(err.Error(), TrustedKeysEnv) {
		t.Errorf("bad env key: %v", err)
	}
}

func BenchmarkSignVerify(b *testing.B) {
	k, _ := Generate("bench")
	msg := make([]byte, 4096)
	pub := k.Public()
	for b.Loop() {
		if !pub.Verify(msg, k.Sign(msg)) {
			b.Fatal("bad signature")
		}
	}
}
