package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

// The parts of Kubernetes objects that TestKubernetesExamples checks.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Spec k8sPod `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPod struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	InitContainers []k8sContainer `yaml:"initContainers"`
	Containers     []k8sContainer `yaml:"containers"`
	Volumes        []struct {
		Name      string `yaml:"name"`
		ConfigMap struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type k8sContainer struct {
	Name          string   `yaml:"name"`
	Image         string   `yaml:"image"`
	RestartPolicy string   `yaml:"restartPolicy"`
	Args          []string `yaml:"args"`
	Ports         []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// TestKubernetesExamples parses examples/kubernetes/*.yaml (a YAML
// parser, every document), runs `barge check` on each embedded barge.conf,
// and checks each barge container against its config: the image's user,
// liveness on /healthz and readiness (and startup) on /readyz at the
// config's http_port, a grace period longer than shutdown_timeout, and
// the sidecar a native one (an init container restarted Always).
func TestKubernetesExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples/kubernetes/*.yaml (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			dec.SetStrict(true)
			var objs []k8sObject
			for {
				var raw map[string]any
				err := dec.Decode(&raw)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: YAML: %v", file, err)
				}
				again, err := yaml.Marshal(raw)
				if err != nil {
					t.Fatal(err)
				}
				var o k8sObject
				if err := yaml.Unmarshal(again, &o); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				objs = append(objs, o)
			}
			configs := map[string]string{} // ConfigMap name -> its barge.conf, checked
			for _, o := range objs {
				if o.Kind != "ConfigMap" {
					continue
				}
				conf, ok := o.Data["barge.conf"]
				if !ok {
					t.Fatalf("ConfigMap %s has no barge.conf", o.Metadata.Name)
				}
				path := filepath.Join(t.TempDir(), "barge.conf")
				if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(bargeBin, "check", "-c", path).CombinedOutput(); err != nil {
					t.Fatalf("barge check of ConfigMap %s: %v\n%s", o.Metadata.Name, err, out)
				}
				configs[o.Metadata.Name] = path
			}
			pods := 0
			for _, o := range objs {
				if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
					continue
				}
				pods++
				checkPod(t, o.Metadata.Name, o.Spec.Template.Spec, configs)
			}
			if pods == 0 {
				t.Fatal("no Deployment or StatefulSet")
			}
		})
	}
}

func checkPod(t *testing.T, name string, pod k8sPod, configs map[string]string) {
	t.Helper()
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != imageUID {
		t.Errorf("%s: securityContext runAsNonRoot %v runAsUser %d, want true and %d (the image's user)",
			name, pod.SecurityContext.RunAsNonRoot, pod.SecurityContext.RunAsUser, imageUID)
	}
	for i, c := range append(append([]k8sContainer(nil), pod.InitContainers...), pod.Containers...) {
		if !strings.HasPrefix(c.Image, "barge:") {
			continue
		}
		native := i < len(pod.InitContainers)
		if native && c.RestartPolicy != "Always" {
			t.Errorf("%s/%s: an init container without restartPolicy Always is not a sidecar", name, c.Name)
		}
		// Its config: the ConfigMap mounted at /etc/barge.
		var cm string
		for _, m := range c.VolumeMounts {
			if m.MountPath == "/etc/barge" {
				for _, v := range pod.Volumes {
					if v.Name == m.Name {
						cm = v.ConfigMap.Name
					}
				}
			}
		}
		path, ok := configs[cm]
		if !ok || len(c.Args) != 3 || c.Args[2] != "/etc/barge/barge.conf" {
			t.Errorf("%s/%s: args %v and ConfigMap %q: want the ConfigMap of this file at /etc/barge/barge.conf", name, c.Name, c.Args, cm)
			continue
		}
		p, err := loadPlan(path)
		if err != nil {
			t.Fatal(err)
		}
		if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= p.system.ShutdownTimeout {
			t.Errorf("%s: terminationGracePeriodSeconds %v is not above shutdown_timeout %v", name, grace, p.system.ShutdownTimeout)
		}
		if c.Args[0] == "load" {
			continue // a loader serves no probes
		}
		metricsPort := 0
		for _, port := range c.Ports {
			if port.Name == "metrics" {
				metricsPort = port.ContainerPort
			}
		}
		if p.system.HTTPPort == 0 || metricsPort != p.system.HTTPPort || p.system.HTTPBind != "0.0.0.0" {
			t.Errorf("%s/%s: port metrics %d, config http_port %d on %s: the kubelet cannot reach the probes",
				name, c.Name, metricsPort, p.system.HTTPPort, p.system.HTTPBind)
		}
		probes := map[string]*k8sProbe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe}
		if native {
			probes["startupProbe"] = c.StartupProbe
		}
		for kind, pr := range probes {
			want := "/readyz"
			if kind == "livenessProbe" {
				want = "/healthz"
			}
			if pr == nil || pr.HTTPGet.Path != want || pr.HTTPGet.Port != "metrics" {
				t.Errorf("%s/%s: %s %+v, want httpGet %s on port metrics", name, c.Name, kind, pr, want)
			}
		}
	}
}
