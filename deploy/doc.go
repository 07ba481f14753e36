// Package deploy holds the configuration the compose stack mounts (vmagent's scrape config,
// Alertmanager's config, Grafana's provisioning) and the test of docker-compose.yml's promises.
package deploy
