// @ts-check

/**
 * The Flux Receivers the plugin manages, one per source, and how their last trigger
 * went. Tokens stay in the cluster's Secrets, and the webhook paths derived from them
 * are read from the cluster when needed: neither is stored here.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_receivers', table => {
    table.comment('Flux Receivers managed by the GitOps plugin');
    table.string('cluster').notNullable();
    table.string('namespace').notNullable();
    table.string('name').notNullable().comment('The Receiver name');
    table.string('source_kind', 64).notNullable();
    table.string('source_name').notNullable();
    table
      .string('repository', 1024)
      .notNullable()
      .comment('Normalized repository URL of the source');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.timestamp('last_triggered_at', { useTz: true }).nullable();
    table.string('last_result', 16).nullable();
    table.text('last_message').nullable();
    table.primary(['cluster', 'namespace', 'name']);
    table.index(['repository'], 'gitops_receivers_repository_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_receivers');
};
