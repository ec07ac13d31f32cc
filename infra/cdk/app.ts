import { createApp } from './assembly.ts';

// `npx cdk synth|deploy` runs this file (cdk.json), on the project's Node 24, which runs TypeScript as is.
createApp().app.synth();
