package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/lock"
)

// URIs monogres documents carry (defined in docs/attestations.md).
const (
	// BuildType is the SLSA buildType of a monogres cell build.
	BuildType = Namespace + "/blob/main/docs/attestations.md#build-type-v1"
	// Policy is the VSA policy: a rebuild gave the same package bytes.
	Policy = Namespace + "/blob/main/docs/attestations.md#policy-bit-for-bit-rebuild-v1"
	// PredicateProvenance and PredicateVSA are the in-toto predicate types.
	PredicateProvenance = "https://slsa.dev/provenance/v1"
	PredicateVSA        = "https://slsa.dev/verification_summary/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
)

// BuilderID names the builder by the key that signs for it.
func BuilderID(k *keys.PrivateKey) string { return "urn:monogres:builder:" + k.ID() }

// Provenance is the SLSA v1 provenance statement of p, built by the
// builder that signs with k. sbomSHA is the SBOM's digest (a byproduct).
func Provenance(p *Package, k *keys.PrivateKey, sbomSHA string) (*intoto.Statement, error) {
	m := &p.Manifest
	ext := map[string]any{"cell": p.Cell, "lockDigest": m.LockDigest}
	internal := map[string]any{
		"actionKey":       m.ActionKey,
		"recipeVersion":   build.RecipeVersion,
		"sourceDateEpoch": fmt.Sprint(m.SourceDateEpoch),
		"prefix":          m.Prefix,
		"compression":     m.Compression,
	}
	if p.RootDigest != "" {
		internal["toolchainRootDigest"] = p.RootDigest
	}
	if p.Extension() {
		ext["extension"] = p.Ext.Extension
		ext["extensionVersion"] = p.Ext.ExtensionVersion
		ext["recipe"] = p.Ext.Recipe
		ext["parent"] = p.Ext.Parent
	}
	es, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, err
	}
	is, err := structpb.NewStruct(internal)
	if err != nil {
		return nil, err
	}
	deps := []*intoto.ResourceDescriptor{input(p.Source)}
	if p.Plugin.SHA256 != "" {
		deps = append(deps, input(p.Plugin))
	}
	if p.Extension() && p.Ext.ParentPackage != "" {
		deps = append(deps, &intoto.ResourceDescriptor{Name: p.Ext.Parent + ".tar.zst", Digest: map[string]string{"sha256": p.Ext.ParentPackage}})
	}
	if p.Extension() {
		for _, r := range p.Manifest.Requires {
			deps = append(deps, &intoto.ResourceDescriptor{Name: r.Cell + ".tar.zst", Digest: map[string]string{"sha256": r.Package}})
		}
	}
	for _, d := range p.Toolchain {
		deps = append(deps, input(d))
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   es,
			InternalParameters:   is,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder:  &slsa.Builder{Id: BuilderID(k)},
			Metadata: &slsa.BuildMetadata{InvocationId: m.ActionKey},
			Byproducts: []*intoto.ResourceDescriptor{
				{Name: p.Cell + ".json", Digest: map[string]string{"sha256": p.ManifestSHA256}, MediaType: "application/json"},
				{Name: p.Cell + SBOMSuffix, Digest: map[string]string{"sha256": sbomSHA}, MediaType: "application/spdx+json"},
			},
		},
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("evidence: provenance of %s: %w", p.Cell, err)
	}
	return statement(p, PredicateProvenance, pred)
}

// VSA is the verification summary of p: the verifier signing with k
// rebuilt it and got the same bytes; prov is the provenance envelope it
// checked.
func VSA(p *Package, k *keys.PrivateKey, prov []byte) (*intoto.Statement, error) {
	sum := sha256.Sum256(prov)
	pred := &vsa.VerificationSummary{
		Verifier:           &vsa.VerificationSummary_Verifier{Id: "urn:monogres:verifier:" + k.ID()},
		TimeVerified:       timestamppb.New(time.Now().UTC().Truncate(time.Second)),
		ResourceUri:        packageName(p),
		Policy:             &vsa.VerificationSummary_Policy{Uri: Policy},
		InputAttestations:  []*vsa.VerificationSummary_InputAttestation{{Uri: p.Cell + ProvenanceSuffix, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		VerificationResult: "PASSED",
		VerifiedLevels:     []string{"SLSA_BUILD_LEVEL_1"},
		SlsaVersion:        "1.0",
	}
	return statement(p, PredicateVSA, pred)
}

func input(in lock.Input) *intoto.ResourceDescriptor {
	rd := &intoto.ResourceDescriptor{Name: in.Name, Digest: map[string]string{"sha256": in.SHA256}}
	if len(in.URLs) > 0 {
		rd.Uri = in.URLs[0]
	}
	return rd
}

func statement(p *Package, predicateType string, pred proto.Message) (*intoto.Statement, error) {
	b, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	var ps structpb.Struct
	if err := protojson.Unmarshal(b, &ps); err != nil {
		return nil, err
	}
	s := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: packageName(p), Digest: map[string]string{"sha256": p.Manifest.Package}}},
		PredicateType: predicateType,
		Predicate:     &ps,
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("evidence: statement of %s: %w", p.Cell, err)
	}
	return s, nil
}

// canonical is s as JSON with sorted keys and no insignificant space
// (protojson's output is deliberately unstable).
func canonical(s *intoto.Statement) ([]byte, error) {
	b, err := protojson.Marshal(s)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}
