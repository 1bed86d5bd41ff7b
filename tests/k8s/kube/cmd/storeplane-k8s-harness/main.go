// Command storeplane-k8s-harness completes the node-less test cluster that
// `cargo xtask cluster up` starts (see tests/k8s/README.md). It
//
//   - creates the fake Nodes that kwok then manages, the default
//     StorageClass and its own MutatingWebhookConfiguration;
//   - serves that webhook, which stamps the effective
//     `sim.storeplane.io/fail` fault of a new Pod (from the Pod, its owner
//     chain or its Namespace) so kwok's fault Stages can select on it;
//   - provisions a PersistentVolume for every claim of the default class
//     (and deletes it once released), since there is no storage driver;
//   - lets a running faulted pod recover once its fault is cleared;
//   - checks that the cluster can run a Pod and then writes --ready-file.
//
// It runs until SIGTERM/SIGINT.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// userAgent names the harness in the audit log, beside its own client
// certificate (CN=storeplane:k8s-harness).
const userAgent = "storeplane-k8s-harness"

type options struct {
	kubeconfig   string
	webhookAddr  string
	tlsCert      string
	tlsKey       string
	caCert       string
	nodes        int
	nodePrefix   string
	storageClass string
	readyFile    string
	apiReadyFile string
	readyTimeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of a cluster admin")
	flag.StringVar(&o.webhookAddr, "webhook-addr", "127.0.0.1:0", "address (loopback) the admission webhook listens on")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "serving certificate of the webhook (SAN IP:127.0.0.1)")
	flag.StringVar(&o.tlsKey, "tls-key", "", "key of --tls-cert")
	flag.StringVar(&o.caCert, "ca-cert", "", "CA that signed --tls-cert (the webhook's caBundle)")
	flag.IntVar(&o.nodes, "nodes", 2, "how many fake Nodes to create")
	flag.StringVar(&o.nodePrefix, "node-prefix", "kwok-node-", "name prefix of the fake Nodes")
	flag.StringVar(&o.storageClass, "storage-class", "standard", "name of the default StorageClass")
	flag.StringVar(&o.readyFile, "ready-file", "", "written (JSON) once the cluster can run pods")
	flag.StringVar(&o.apiReadyFile, "apiserver-ready-file", "", "written once kube-apiserver's /readyz says ok")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 2*time.Minute, "give up (exit 1) when not ready by then")
	klog.InitFlags(nil)
	flag.Parse()
	if o.kubeconfig == "" || o.tlsCert == "" || o.tlsKey == "" || o.caCert == "" {
		fmt.Fprintln(os.Stderr, "storeplane-k8s-harness: --kubeconfig, --tls-cert, --tls-key and --ca-cert are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, o); err != nil && !errors.Is(err, context.Canceled) {
		klog.ErrorS(err, "harness failed")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return err
	}
	cfg.UserAgent = userAgent
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(o.caCert)
	if err != nil {
		return err
	}

	// Listen before registering the webhook: with failurePolicy Fail the
	// apiserver must be able to reach it as soon as it is registered.
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.webhookAddr)
	if err != nil {
		return err
	}
	wh := &webhook{client: client, meta: meta}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate-pods", wh.serve)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	defer func() { _ = srv.Close() }()
	url := fmt.Sprintf("https://%s/mutate-pods", ln.Addr().String())
	klog.InfoS("webhook listening", "url", url)

	if err := waitForAPIServer(ctx, client); err != nil {
		return err
	}
	klog.InfoS("kube-apiserver ready", "after", time.Since(start))
	if o.apiReadyFile != "" {
		if err := os.WriteFile(o.apiReadyFile, nil, 0o644); err != nil {
			return err
		}
	}
	if err := bootstrap(ctx, client, o, url, caPEM); err != nil {
		return err
	}
	prov := newProvisioner(client, o.storageClass)
	go prov.run(ctx)
	go runRecoverer(ctx, client, meta, wh)

	ready, err := checkReady(ctx, client, o)
	if err != nil {
		return fmt.Errorf("cluster not ready: %w", err)
	}
	ready.HarnessSeconds = time.Since(start).Seconds()
	ready.WebhookURL = url
	if o.readyFile != "" {
		data, _ := json.MarshalIndent(ready, "", "  ")
		tmp := o.readyFile + ".tmp"
		if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, o.readyFile); err != nil {
			return err
		}
	}
	klog.InfoS("cluster ready", "after", time.Since(start))

	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return fmt.Errorf("webhook server: %w", err)
	}
}
