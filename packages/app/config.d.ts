export interface Config {
  auth?: {
    providers?: {
      /**
       * The GitLab sign-in provider's settings (`@backstage/plugin-auth-backend-module-gitlab-provider`,
       * which declares them). Its schema makes the key visible to the frontend, but the
       * app does not depend on that backend module, so the key is declared here too: the
       * sign-in page offers GitLab when it is present. Only the key reaches the browser,
       * none of the settings below it.
       *
       * @visibility frontend
       */
      gitlab?: {
        [authEnv: string]: object;
      };
    };
  };
}
