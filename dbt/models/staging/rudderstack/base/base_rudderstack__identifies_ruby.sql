{{ stage_identifies('identifies_ruby', 'ruby') }}
