namespace SnicRuntime.Contracts.Plans;

/// <summary>
/// What changed between two plans, object by object (<see cref="PlanObjects"/> keys): the objects
/// to put, each whole (together in <see cref="Put"/>, a plan of their own), and the keys to delete.
/// The controller sends it to a card that runs <see cref="BaseDigest"/>; the card applies it to
/// what it runs, checks that the result has <see cref="Digest"/>, and installs it as
/// <see cref="Generation"/> like any plan. So a card ends exactly where the whole share would have
/// put it, and a card that runs anything else says so (409) and is sent the whole share instead.
/// </summary>
public sealed class PlanDelta
{
    /// <summary>The generation the card runs after the delta.</summary>
    public long? Generation { get; set; }

    /// <summary>The digest (<see cref="PlanDigest"/>) of the plan the delta applies to.</summary>
    public string? BaseDigest { get; set; }

    /// <summary>The digest of the plan the delta makes.</summary>
    public string? Digest { get; set; }

    /// <summary>Objects added or changed, each whole.</summary>
    public ChangePlan? Put { get; set; }

    /// <summary>Keys of the objects removed.</summary>
    public List<string>? Delete { get; set; }

    /// <summary>The delta that turns <paramref name="from"/> into <paramref name="to"/>, to run as <paramref name="generation"/>.</summary>
    public static PlanDelta Between(ChangePlan from, ChangePlan to, long generation)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        SortedDictionary<string, byte[]> before = PlanObjects.Split(from), after = PlanObjects.Split(to);
        var put = after.Where(a => !before.TryGetValue(a.Key, out byte[]? was) || !was.AsSpan().SequenceEqual(a.Value))
            .Select(a => KeyValuePair.Create(a.Key, PlanObjects.Parse(a.Key, a.Value)));
        return new PlanDelta
        {
            Generation = generation,
            BaseDigest = PlanDigest.Of(from),
            Digest = PlanDigest.Of(to),
            Put = PlanObjects.Merge(put, null),
            Delete = [.. before.Keys.Where(k => !after.ContainsKey(k))],
        };
    }

    /// <summary>How many objects it puts and deletes (what it costs to send, against a whole share).</summary>
    public int Objects => (Put is null ? 0 : PlanObjects.Split(Put).Count) + (Delete?.Count ?? 0);

    /// <summary>
    /// The plan this delta makes of <paramref name="current"/> (whose digest the caller checked
    /// against <see cref="BaseDigest"/>), or null with the reason: objects that do not cut into
    /// keys, a delete of a key that is not there, or a result whose digest is not <see cref="Digest"/>.
    /// </summary>
    public ChangePlan? ApplyTo(ChangePlan current, out PlanError? error)
    {
        ArgumentNullException.ThrowIfNull(current);
        error = null;
        SortedDictionary<string, byte[]> objects;
        try
        {
            objects = PlanObjects.Split(current);
            foreach ((string key, byte[] value) in Put is null ? [] : PlanObjects.Split(Put))
            {
                objects[key] = value;
            }
        }
        catch (ArgumentException e)
        {
            error = new PlanError("$.put", $"the objects do not cut into one key each: {e.Message}");
            return null;
        }

        for (int i = 0; i < (Delete?.Count ?? 0); i++)
        {
            if (Delete![i] is not string key || !objects.Remove(key))
            {
                error = new PlanError($"$.delete[{i}]", $"no object '{Delete[i]}' in the plan this card runs");
                return null;
            }
        }

        ChangePlan made = PlanObjects.Merge(objects.Select(o => KeyValuePair.Create(o.Key, PlanObjects.Parse(o.Key, o.Value))), Generation);
        if (Digest is not null && PlanDigest.Of(made) != Digest)
        {
            error = new PlanError("$.digest", $"the delta makes a plan with digest {PlanDigest.Of(made)}, not {Digest}");
            return null;
        }

        return made;
    }
}
