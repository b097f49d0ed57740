// @ts-check

/**
 * The push webhooks the plugin registered on Git hosts, one per delivery repository.
 * The webhook secret itself stays in the configuration: only a keyed digest is kept,
 * to notice when it changed and the hooks need the new one.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_webhooks', table => {
    table.comment('Push webhooks registered on Git hosts by the GitOps plugin');
    table
      .string('repository', 1024)
      .primary()
      .comment('Normalized repository URL');
    table.string('host_kind', 16).notNullable().comment('gitlab or github');
    table.string('hook_id', 64).notNullable().comment('The Git host hook id');
    table.string('url', 2048).notNullable().comment('Where the hook posts');
    table
      .string('secret_digest', 64)
      .notNullable()
      .comment('HMAC-SHA256 of the secret, never the secret');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table
      .timestamp('verified_at', { useTz: true })
      .notNullable()
      .comment('When the hook was last seen on the Git host');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_webhooks');
};
