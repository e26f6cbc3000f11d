// Command knative-validate runs Knative's own admission checks on manifests: for every Knative Service and
// PingSource in the YAML documents read from stdin, what the Serving and Eventing admission webhooks run on a
// create (SetDefaults, then Validate) with the default configuration, that is, every feature flag of
// config-features at its default, as on a stock install. Other kinds are skipped. It prints one line for each
// object checked and exits 1 when any is refused, 2 when the input cannot be read.
//
// Built on Knative Serving v0.42.2 and Eventing v0.42.3: the Go module proxy serves no knative.dev/pkg and
// knative.dev/networking versions that newer Serving releases pin. So that an older release cannot hide a newer
// default, `-features FILE` reads config-features from a newer Serving release (config/core/configmaps/
// features.yaml, whose _example documents every flag's default) and fails when a flag this code knows has
// another default there.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	sigsyaml "sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// resource is what both webhooks call: defaulting (the mutating webhook), then validation.
type resource interface {
	apis.Defaultable
	apis.Validatable
}

// checkFeatureDefaults fails when a newer release documents a default, for a flag this code knows, other than
// this code's own default. A flag this code does not know is listed: its fields are refused here in any case.
func checkFeatureDefaults(path string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var configMap corev1.ConfigMap
	if err := sigsyaml.Unmarshal(text, &configMap); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	documented := map[string]string{}
	if err := sigsyaml.Unmarshal([]byte(configMap.Data["_example"]), &documented); err != nil {
		return fmt.Errorf("%s: _example: %w", path, err)
	}
	builtIn, _ := servingconfig.NewFeaturesConfigFromMap(map[string]string{})
	keys := make([]string, 0, len(documented))
	for key := range documented {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var differ, unknown []string
	for _, key := range keys {
		value := documented[key]
		asDocumented, err := servingconfig.NewFeaturesConfigFromMap(map[string]string{key: value})
		if err != nil {
			unknown = append(unknown, fmt.Sprintf("%s=%s", key, value))
			continue
		}
		if !reflect.DeepEqual(asDocumented, builtIn) {
			differ = append(differ, fmt.Sprintf("%s=%s", key, value))
			continue
		}
		// Same as the built-in default, or a key this code ignores: flip it to tell which.
		flipped := map[string]string{"enabled": "disabled", "disabled": "enabled"}[value]
		if flipped == "" {
			continue
		}
		changed, err := servingconfig.NewFeaturesConfigFromMap(map[string]string{key: flipped})
		if err == nil && reflect.DeepEqual(changed, builtIn) {
			unknown = append(unknown, fmt.Sprintf("%s=%s", key, value))
		}
	}
	fmt.Printf("features: %d documented defaults in %s, %d not known to this validator: %v\n",
		len(keys), path, len(unknown), unknown)
	if len(differ) > 0 {
		return fmt.Errorf("the newer release documents other defaults than this validator's: %v", differ)
	}
	return nil
}

func main() {
	features := flag.String("features", "", "config-features of a newer Serving release, to compare defaults with")
	flag.Parse()
	if *features != "" {
		if err := checkFeatureDefaults(*features); err != nil {
			fmt.Fprintf(os.Stderr, "knative-validate: %v\n", err)
			os.Exit(2)
		}
	}
	refused := 0
	reader := yaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "knative-validate: cannot read the input: %v\n", err)
			os.Exit(2)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta typeMeta
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			fmt.Fprintf(os.Stderr, "knative-validate: not a Kubernetes object: %v\n", err)
			os.Exit(2)
		}
		var object resource
		switch meta.APIVersion + "/" + meta.Kind {
		case "serving.knative.dev/v1/Service":
			object = &servingv1.Service{}
		case "sources.knative.dev/v1/PingSource":
			object = &sourcesv1.PingSource{}
		default:
			continue
		}
		// Strict, as the API server decodes a create with fieldValidation=Strict: an unknown field is an error.
		if err := sigsyaml.UnmarshalStrict(doc, object); err != nil {
			fmt.Printf("REFUSED %s/%s: %v\n", meta.Kind, meta.Metadata.Name, err)
			refused++
			continue
		}
		// The webhooks handle a create within apis.WithinCreate; with no config-features or config-defaults
		// in the context, both read their built-in defaults, which is what a stock install has.
		ctx := apis.WithinCreate(context.Background())
		object.SetDefaults(ctx)
		if fieldErr := object.Validate(ctx); fieldErr != nil {
			fmt.Printf("REFUSED %s/%s: %v\n", meta.Kind, meta.Metadata.Name, fieldErr)
			refused++
			continue
		}
		fmt.Printf("ACCEPTED %s/%s\n", meta.Kind, meta.Metadata.Name)
	}
	if refused > 0 {
		os.Exit(1)
	}
}
