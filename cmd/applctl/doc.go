// Command applctl drives an appl node from the shell: status, failover, maintenance,
// maps and tables, reload, configuration, cluster and migration. Subcommands whose
// owner is not part of this build yet say so and exit 2.
package main
