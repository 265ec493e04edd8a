package evidence

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/monogres/monogres/lock"
)

// Namespace prefixes SPDX document namespaces and the URIs of monogres'
// build type, builder and policy.
const Namespace = "https://github.com/monogres/monogres"

// RuntimeNotRecorded is the SBOM comment of a package whose runtime
// dependencies the build did not record.
const RuntimeNotRecorded = "runtime dependencies: not recorded by this build (its CELL.json has no runtime closure: built before monogres recorded one, or it needs no shared library); the toolchain packages are listed as BUILD_TOOL_OF"

// SBOM is the SPDX 2.3 JSON document of p: the package with every regular
// file (SHA1 and SHA256), the source it was GENERATED_FROM, every toolchain
// .deb and the plugin as BUILD_TOOL_OF, the Postgres package an extension
// needs as RUNTIME_DEPENDENCY_OF, and any recorded runtime dependencies.
//
// SPDX rather than CycloneDX: it is ISO/IEC 5962, it has the build
// relationships this needs as first-class types, every package carries a
// downloadLocation and declared license, files have checksums and the
// package a verification code, and Debian's and the Linux Foundation's
// tools read it.
func SBOM(p *Package, files []file) ([]byte, error) {
	m := &p.Manifest
	pkgID := common.ElementID("Package-" + spdxID(p.Cell))
	version := p.Source.Version
	summary := "Postgres " + version + " built by monogres (" + p.Cell + ")"
	if p.Extension() {
		version = p.Ext.ExtensionVersion
		summary = "Postgres extension " + p.Ext.Extension + " " + version + " built by monogres for " + p.Ext.Parent
	}
	main := &spdx.Package{
		PackageName:               p.Cell,
		PackageSPDXIdentifier:     pkgID,
		PackageVersion:            version,
		PackageFileName:           packageName(p),
		PackageSupplier:           &common.Supplier{Supplier: "NOASSERTION"},
		PackageDownloadLocation:   "NOASSERTION",
		FilesAnalyzed:             true,
		IsFilesAnalyzedTagPresent: true,
		PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: m.Package}},
		PackageLicenseConcluded:   "NOASSERTION",
		PackageLicenseDeclared:    sourceLicense(p),
		PackageCopyrightText:      "NOASSERTION",
		PackageSummary:            summary,
		PrimaryPackagePurpose:     "APPLICATION",
		BuiltDate:                 epoch(m.SourceDateEpoch),
	}
	if p.Extension() {
		main.PrimaryPackagePurpose = "LIBRARY"
	}
	if p.Runtime == nil {
		main.PackageComment = RuntimeNotRecorded
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      p.Cell,
		DocumentNamespace: Namespace + "/spdx/" + p.Cell + "-" + m.Package,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "monogres"}},
			Created:  epoch(m.SourceDateEpoch),
		},
		Packages: []*spdx.Package{main},
	}
	rel := func(a, b common.ElementID, typ string) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: typ,
		})
	}
	rel("DOCUMENT", pkgID, "DESCRIBES")

	var sha1s []string
	for i, f := range files {
		id := common.ElementID(fmt.Sprintf("File-%d", i+1))
		doc.Files = append(doc.Files, &spdx.File{
			FileName:           "./" + f.path,
			FileSPDXIdentifier: id,
			Checksums:          []common.Checksum{{Algorithm: common.SHA1, Value: f.sha1}, {Algorithm: common.SHA256, Value: f.sha256}},
			LicenseConcluded:   "NOASSERTION",
			FileCopyrightText:  "NOASSERTION",
		})
		rel(pkgID, id, "CONTAINS")
		sha1s = append(sha1s, f.sha1)
	}
	slices.Sort(sha1s)
	vc := sha1.Sum([]byte(strings.Join(sha1s, "")))
	main.PackageVerificationCode = &common.PackageVerificationCode{Value: hex.EncodeToString(vc[:])}

	add := func(in lock.Input, license, purl, typ string, forward bool) {
		id := common.ElementID(fmt.Sprintf("Input-%d-%s", len(doc.Packages), spdxID(in.Name)))
		q := &spdx.Package{
			PackageName:             inputName(in),
			PackageSPDXIdentifier:   id,
			PackageVersion:          in.Version,
			PackageDownloadLocation: "NOASSERTION",
			PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: in.SHA256}},
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  license,
			PackageCopyrightText:    "NOASSERTION",
			PackageComment:          "monogres.lock input " + in.Name,
		}
		if len(in.URLs) == 0 {
			in.URLs = toolchainURLs(p, in.SHA256)
		}
		if len(in.URLs) > 0 {
			q.PackageDownloadLocation = in.URLs[0]
		}
		if purl != "" {
			q.PackageExternalReferences = []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: purl}}
		}
		doc.Packages = append(doc.Packages, q)
		if forward {
			rel(pkgID, id, typ)
		} else {
			rel(id, pkgID, typ)
		}
	}
	src := p.Source
	add(src, sourceLicense(p), genericPURL(src), "GENERATED_FROM", true)
	doc.Packages[len(doc.Packages)-1].PrimaryPackagePurpose = "SOURCE"
	if p.Plugin.SHA256 != "" {
		add(p.Plugin, "NOASSERTION", "", "BUILD_TOOL_OF", false)
	}
	for _, d := range p.Toolchain {
		add(d, "NOASSERTION", debPURL(d), "BUILD_TOOL_OF", false)
	}
	if p.Extension() && p.Ext.ParentPackage != "" {
		add(lock.Input{Name: p.Ext.Parent, SHA256: p.Ext.ParentPackage, Version: p.Ext.Parent}, "PostgreSQL", "", "RUNTIME_DEPENDENCY_OF", false)
	}
	for _, d := range p.Runtime {
		add(d, "NOASSERTION", debPURL(d), "RUNTIME_DEPENDENCY_OF", false)
	}
	var b bytes.Buffer
	if err := spdxjson.Write(doc, &b, spdxjson.Indent(" "), spdxjson.EscapeHTML(false)); err != nil {
		return nil, fmt.Errorf("evidence: SBOM of %s: %w", p.Cell, err)
	}
	return b.Bytes(), nil
}

// toolchainURLs are the URLs of the toolchain .deb with digest sha (a
// runtime dependency is one of the root's packages).
func toolchainURLs(p *Package, sha string) []string {
	for _, d := range p.Toolchain {
		if d.SHA256 == sha {
			return d.URLs
		}
	}
	return nil
}

// sourceLicense is the source's declared license where monogres can tell:
// every Postgres release is under the PostgreSQL License; an extension's
// is not determined (NOASSERTION).
func sourceLicense(p *Package) string {
	if p.Source.Kind == lock.KindPostgres {
		return "PostgreSQL"
	}
	return "NOASSERTION"
}

func inputName(in lock.Input) string {
	if in.Kind == lock.KindDeb {
		return in.Name[strings.LastIndexByte(in.Name, '/')+1:]
	}
	return in.Name
}

func debPURL(in lock.Input) string {
	if in.Kind != lock.KindDeb {
		return ""
	}
	return "pkg:deb/debian/" + inputName(in) + "@" + purlEscape(in.Version) + "?arch=" + in.Arch
}

func genericPURL(in lock.Input) string {
	name := in.Name
	switch in.Kind {
	case lock.KindPostgres:
		name = "postgresql"
	case lock.KindExtension:
		parts := strings.Split(in.Name, "/")
		if len(parts) == 3 {
			name = parts[1]
		}
	}
	u := "pkg:generic/" + name + "@" + purlEscape(in.Version) + "?checksum=sha256:" + in.SHA256
	if len(in.URLs) > 0 {
		u += "&download_url=" + purlEscape(in.URLs[0])
	}
	return u
}

// purlEscape percent-encodes what a purl version or qualifier may not hold.
func purlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// spdxID maps s to the characters an SPDX identifier may hold.
func spdxID(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func epoch(sec int64) string { return time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05Z") }
