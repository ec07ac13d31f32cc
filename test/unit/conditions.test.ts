import { describe, expect, it } from 'vitest';
import {
  accountNotDeleted,
  all,
  atGeneration,
  conditionParams,
  generationMoving,
  itemAbsent,
  notRevoked,
  ownedBy,
  refreshHashIs,
} from '../../lib/store/conditions.ts';

// How fragments are joined and bound. What each fragment refuses is tested against the store, with the race or
// state only the condition can refuse: test/integration/conditions.test.ts.

describe('all', () => {
  it('joins the expressions with AND, in order, and merges their names and values', () => {
    expect(all(itemAbsent, ownedBy('u1'), notRevoked)).toEqual({
      expression: 'attribute_not_exists(#c_pk) AND userId = :c_owner AND revoked = :c_false',
      names: { '#c_pk': 'pk' },
      values: { ':c_owner': 'u1', ':c_false': false },
    });
  });

  it('leaves out a map no fragment fills: DynamoDB refuses an empty ExpressionAttributeNames or Values', () => {
    const joined = all(accountNotDeleted, { expression: 'attribute_exists(x)' });
    expect(joined).toEqual({ expression: 'attribute_not_exists(deleted) AND attribute_exists(x)' });
    expect('names' in joined).toBe(false);
    expect('values' in joined).toBe(false);
    expect('names' in all(notRevoked)).toBe(false);
    expect('values' in all(itemAbsent)).toBe(false);
  });

  it('takes one fragment twice (the same placeholder bound to the same value)', () => {
    expect(all(ownedBy('u1'), ownedBy('u1')).values).toEqual({ ':c_owner': 'u1' });
  });

  it('throws when one placeholder would be bound to two different values', () => {
    expect(() => all(ownedBy('u1'), ownedBy('u2'))).toThrow('placeholder :c_owner bound twice');
    expect(() => all(atGeneration(1), atGeneration(2))).toThrow('placeholder :c_generation bound twice');
    expect(() => all(itemAbsent, { expression: '#c_pk = :x', names: { '#c_pk': 'other' } })).toThrow(
      'placeholder #c_pk bound twice',
    );
  });
});

describe('conditionParams', () => {
  it('gives the expression and only the maps that hold something', () => {
    expect(conditionParams(accountNotDeleted)).toEqual({
      ConditionExpression: 'attribute_not_exists(deleted)',
    });
    expect(conditionParams(accountNotDeleted, { names: {}, values: {} })).toEqual({
      ConditionExpression: 'attribute_not_exists(deleted)',
    });
    expect(conditionParams(itemAbsent)).toEqual({
      ConditionExpression: 'attribute_not_exists(#c_pk)',
      ExpressionAttributeNames: { '#c_pk': 'pk' },
    });
    expect(conditionParams(notRevoked)).toEqual({
      ConditionExpression: 'revoked = :c_false',
      ExpressionAttributeValues: { ':c_false': false },
    });
  });

  it("merges the update expression's own names and values with the condition's", () => {
    const update = { names: { '#r': 'refreshHash' }, values: { ':next': 'h2' } };
    expect(conditionParams(all(refreshHashIs('h1'), notRevoked), update)).toEqual({
      ConditionExpression: 'refreshHash = :c_refreshHash AND revoked = :c_false',
      ExpressionAttributeNames: { '#r': 'refreshHash' },
      ExpressionAttributeValues: { ':next': 'h2', ':c_refreshHash': 'h1', ':c_false': false },
    });
    // The update's maps are not changed in place.
    expect(update).toEqual({ names: { '#r': 'refreshHash' }, values: { ':next': 'h2' } });
  });

  it("keeps the update's maps when the condition brings none", () => {
    expect(conditionParams(accountNotDeleted, { names: { '#d': 'deleted' }, values: { ':t': 1 } })).toEqual({
      ConditionExpression: 'attribute_not_exists(deleted)',
      ExpressionAttributeNames: { '#d': 'deleted' },
      ExpressionAttributeValues: { ':t': 1 },
    });
  });

  it('throws when the update binds a placeholder of the condition to another value', () => {
    expect(() => conditionParams(ownedBy('u1'), { values: { ':c_owner': 'u2' } })).toThrow(
      'placeholder :c_owner bound twice',
    );
    expect(() => conditionParams(itemAbsent, { names: { '#c_pk': 'sk' } })).toThrow(
      'placeholder #c_pk bound twice',
    );
    // The same binding on both sides is one binding.
    expect(
      conditionParams(ownedBy('u1'), { values: { ':c_owner': 'u1' } }).ExpressionAttributeValues,
    ).toEqual({
      ':c_owner': 'u1',
    });
  });
});

describe('generation fragments', () => {
  it('read an item without a generation as generation 0, and only then', () => {
    expect(atGeneration(0).expression).toBe(
      '(attribute_not_exists(generation) OR generation = :c_generation)',
    );
    expect(atGeneration(3).expression).toBe('generation = :c_generation');
    expect(generationMoving(0, 1).expression).toBe(
      '(attribute_not_exists(generation) OR generation = :c_from OR generation = :c_to)',
    );
    expect(generationMoving(2, 3)).toEqual({
      expression: '(generation = :c_from OR generation = :c_to)',
      values: { ':c_from': 2, ':c_to': 3 },
    });
  });
});
