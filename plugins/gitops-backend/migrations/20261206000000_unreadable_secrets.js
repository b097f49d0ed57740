// @ts-check

/**
 * The Secrets Flux objects use that the backend may not read (no RoleBinding in their
 * namespace), so the token report can say which credentials it cannot see and why.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('gitops_unreadable_secrets', table => {
    table.comment(
      'Secrets used by Flux that the token inventory could not read',
    );
    table.string('cluster').notNullable();
    table.string('namespace', 253).notNullable();
    table.string('secret', 253).notNullable();
    table
      .text('used_by')
      .notNullable()
      .comment('JSON: the Flux objects ({kind, name}) that use it');
    table.text('reason').notNullable();
    table.timestamp('last_seen_at', { useTz: true }).notNullable();
    table.primary(['cluster', 'namespace', 'secret']);
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('gitops_unreadable_secrets');
};
