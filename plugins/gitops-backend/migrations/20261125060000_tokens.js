// @ts-check

/**
 * The inventory of the credentials Flux uses: what the Git host says of each (kind,
 * scopes, expiry) and where it is used. Never a credential's value: only its SHA-256
 * fingerprint, to recognise it again.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_tokens', table => {
    table.comment('Credentials used by Flux: metadata and fingerprints only');
    table.string('id', 64).primary();
    table.string('kind', 32).notNullable();
    table.string('host').nullable();
    table.string('host_id', 64).nullable().comment('The Git host id');
    table
      .string('fingerprint', 80)
      .notNullable()
      .comment('sha256:<hex> of the value (public key blob for SSH)');
    table
      .text('details')
      .notNullable()
      .comment('JSON: name, scopes, expiry, repositories, entities, usages');
    table.timestamp('last_seen_at', { useTz: true }).notNullable();
    table.timestamp('last_rotated_at', { useTz: true }).nullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_tokens');
};
