// @ts-check

/**
 * Clusters registered at runtime through the API. The service-account token is stored
 * only encrypted (AES-256-GCM, key from `gitops.encryptionSecret`).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_clusters', table => {
    table.comment('Kubernetes clusters registered through the GitOps API');
    table.string('name', 253).primary().notNullable();
    table.text('url').notNullable().comment('The Kubernetes API server URL');
    table.text('ca_data').nullable().comment('Base64 PEM of the API server CA');
    table.boolean('skip_tls_verify').notNullable().defaultTo(false);
    table
      .text('token_ciphertext')
      .notNullable()
      .comment('The service-account token, AES-256-GCM encrypted; never plain');
    table
      .text('settings')
      .notNullable()
      .comment('JSON: fluxNamespace, receiverUrl');
    table.string('created_by').nullable().comment('Entity ref of the admin');
    table.timestamp('created_at', { useTz: true }).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_clusters');
};
