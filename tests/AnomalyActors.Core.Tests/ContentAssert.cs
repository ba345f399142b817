using System.Collections;
using System.Reflection;
using Xunit;
using Xunit.Sdk;

namespace AnomalyActors.Core.Tests;

/// <summary>
/// Structural equality for messages: record equality compares arrays (and ReadOnlyMemory) by
/// reference, so this walks public instance properties and compares arrays and memory element by
/// element and doubles by their bits (so -0.0 differs from 0.0 and a changed ULP is caught).
/// </summary>
internal static class ContentAssert
{
    public static void Equal(object? expected, object? actual) => Compare(expected, actual, "$", depth: 0);

    private static void Compare(object? expected, object? actual, string path, int depth)
    {
        if (depth > 16)
        {
            throw new XunitException($"{path}: object graph too deep to compare");
        }

        if (expected is null || actual is null)
        {
            if (!(expected is null && actual is null))
            {
                throw new XunitException($"{path}: expected {Show(expected)} but was {Show(actual)}");
            }

            return;
        }

        var type = expected.GetType();
        if (type != actual.GetType())
        {
            throw new XunitException($"{path}: expected type {type} but was {actual.GetType()}");
        }

        switch (expected)
        {
            case double e:
                var a = (double)actual;
                if (BitConverter.DoubleToInt64Bits(e) != BitConverter.DoubleToInt64Bits(a))
                {
                    throw new XunitException($"{path}: expected {e:R} (0x{BitConverter.DoubleToInt64Bits(e):X16}) but was {a:R} (0x{BitConverter.DoubleToInt64Bits(a):X16})");
                }

                return;
            case string or bool or byte or int or long or char or Enum:
                if (!expected.Equals(actual))
                {
                    throw new XunitException($"{path}: expected {Show(expected)} but was {Show(actual)}");
                }

                return;
            case Array:
                CompareSequence((IEnumerable)expected, (IEnumerable)actual, path, depth);
                return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ReadOnlyMemory<>))
        {
            var toArray = type.GetMethod(nameof(ReadOnlyMemory<int>.ToArray))!;
            CompareSequence((IEnumerable)toArray.Invoke(expected, null)!, (IEnumerable)toArray.Invoke(actual, null)!, path, depth);
            return;
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .ToArray();
        if (properties.Length == 0 && !ReferenceEquals(expected, actual) && !expected.Equals(actual))
        {
            throw new XunitException($"{path}: {type.Name} without properties: expected the same instance");
        }

        foreach (var property in properties)
        {
            Compare(property.GetValue(expected), property.GetValue(actual), path + "." + property.Name, depth + 1);
        }
    }

    private static void CompareSequence(IEnumerable expected, IEnumerable actual, string path, int depth)
    {
        var e = expected.Cast<object?>().ToArray();
        var a = actual.Cast<object?>().ToArray();
        Assert.True(e.Length == a.Length, $"{path}: expected {e.Length} elements but was {a.Length}");
        for (var i = 0; i < e.Length; i++)
        {
            Compare(e[i], a[i], $"{path}[{i}]", depth + 1);
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => value.ToString() ?? value.GetType().Name,
    };
}
