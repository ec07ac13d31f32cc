import { itemSizeBound } from '../support/item-size.ts';

// One DynamoDB write unit (1 KB) per rotation, per logout, per login's session write (HS256).
itemSizeBound('HS256', 1024);
