package debarchive

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// bookworm is the real InRelease the repository's monogres.lock pins
// (index/bookworm/InRelease, sha256 77737fa4…).
func bookworm(t *testing.T) []byte {
	b, err := os.ReadFile("testdata/bookworm-InRelease")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func debian12(t testing.TB) *Keyring {
	kr, err := DebianKeyring().Select(Debian12Keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestVerifyRealInRelease(t *testing.T) {
	rel, err := VerifyInRelease(bookworm(t), debian12(t))
	if err != nil {
		t.Fatal(err)
	}
	if rel.Signer != "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8" || !strings.Contains(rel.SignerName, "12/bookworm") {
		t.Errorf("signer %s", rel.SignedBy())
	}
	if !rel.Is("bookworm") || rel.Is("trixie") {
		t.Errorf("suite %q codename %q", rel.Suite, rel.Codename)
	}
	// The digest monogres.lock pins for the amd64 Packages index.
	if err := rel.CheckDigest("main/binary-amd64/Packages.xz", "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", 8790396); err != nil {
		t.Error(err)
	}
	if err := rel.CheckDigest("main/binary-amd64/Packages.xz", "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", 8790397); err == nil {
		t.Error("a wrong size passed")
	}
	if err := rel.CheckDigest("main/binary-amd64/Packages.xz", strings.Repeat("0", 64), 8790396); err == nil || !strings.Contains(err.Error(), "signed Release file says 9e0b5aab") {
		t.Errorf("wrong digest: %v", err)
	}
	if err := rel.CheckDigest("main/binary-evil/Packages", strings.Repeat("0", 64), 1); err == nil {
		t.Error("an unlisted file passed")
	}
	if err := rel.Check("main/source/Sources.xz", []byte("not the Sources index")); err == nil {
		t.Error("wrong bytes passed")
	}
}

// TestTamperedInReleaseRefused is the attack: a mirror edits a digest in
// the signed text (to serve its own Packages index) and keeps the signature.
func TestTamperedInReleaseRefused(t *testing.T) {
	b := bookworm(t)
	i := bytes.Index(b, []byte("9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5"))
	if i < 0 {
		t.Fatal("digest not in testdata")
	}
	evil := bytes.Clone(b)
	copy(evil[i:], "0000")
	_, err := VerifyInRelease(evil, debian12(t))
	if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("tampered InRelease: %v", err)
	}
	// Unsigned text appended after the signature is not read.
	if _, err := VerifyInRelease(append(bytes.Clone(b), "\nSHA256:\n 00 1 x\n"...), debian12(t)); err == nil {
		t.Fatal("text after the signature accepted")
	}
	// A plain (unsigned) Release file is not an InRelease.
	b2, _ := clearsign.Decode(b)
	if _, err := VerifyInRelease(b2.Plaintext, debian12(t)); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned Release: %v", err)
	}
}

func TestUntrustedKeyRefused(t *testing.T) {
	// bullseye's stable release key does not sign bookworm's Release.
	kr, err := DebianKeyring().Select([]string{"a428 5295 fc7b 1a81 6000 62a9 605c 66f0 0d6c 9793"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = VerifyInRelease(bookworm(t), kr)
	if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "A4285295FC7B1A81600062A9605C66F00D6C9793") {
		t.Fatalf("untrusted key: %v", err)
	}
	if _, err := DebianKeyring().Select([]string{"0123456789ABCDEF0123456789ABCDEF01234567"}); err == nil {
		t.Fatal("unknown fingerprint selected")
	}
}

// TestDetachedSignature signs a Release with a key made here: it verifies
// with that key only, and a flipped byte or the wrong keyring is refused.
func TestDetachedSignature(t *testing.T) {
	e, err := openpgp.NewEntity("test archive", "", "test@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	release := []byte("Suite: testing\nCodename: test\nSHA256:\n " + sha256Hex([]byte("x")) + " 1 main/binary-amd64/Packages\n")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(release), nil); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	kr, err := ReadKeyring(&pub)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := VerifyDetached(release, sig.Bytes(), kr)
	if err != nil {
		t.Fatal(err)
	}
	if err := rel.Check("main/binary-amd64/Packages", []byte("x")); err != nil {
		t.Error(err)
	}
	if rel.Signer != fingerprint(e) {
		t.Errorf("signer %s, want %s", rel.Signer, fingerprint(e))
	}
	evil := bytes.Replace(release, []byte(" 1 main"), []byte(" 2 main"), 1)
	if _, err := VerifyDetached(evil, sig.Bytes(), kr); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("tampered Release: %v", err)
	}
	if _, err := VerifyDetached(release, sig.Bytes(), debian12(t)); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("wrong keyring: %v", err)
	}
}

func TestDebianKeyring(t *testing.T) {
	fprs := DebianKeyring().Fingerprints()
	if len(fprs) != 9 {
		t.Fatalf("%d keys: %v", len(fprs), fprs)
	}
	if kr := debian12(t); len(kr.Fingerprints()) != 3 || kr.Digest() == DebianKeyring().Digest() {
		t.Fatal("selection")
	}
}

func BenchmarkVerifyInRelease(b *testing.B) {
	data, err := os.ReadFile("testdata/bookworm-InRelease")
	if err != nil {
		b.Fatal(err)
	}
	kr, _ := DebianKeyring().Select(Debian12Keys)
	for b.Loop() {
		if _, err := VerifyInRelease(data, kr); err != nil {
			b.Fatal(err)
		}
	}
}
