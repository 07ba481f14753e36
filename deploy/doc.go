// Package deploy holds the configuration the compose stack mounts (vmagent's scrape config,
// Alertmanager's config, Grafana's provisioning, cluster.env for the VictoriaMetrics cluster
// profile) and the test of docker-compose.yml's promises.
package deploy
