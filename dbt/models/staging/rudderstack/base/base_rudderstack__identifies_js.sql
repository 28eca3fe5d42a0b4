{{ stage_identifies('identifies_js', 'js') }}
